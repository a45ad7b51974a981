"""The long-running and checking commands: `voicedial sim` (the Twilio emulator standalone),
`serve` and `worker` (scale-out), and `doctor`. Registered on the app by `voicedial.cli.app`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from voicedial.cli.common import (
    HostOpt,
    PortOpt,
    ProviderOpt,
    RedisGraceOpt,
    err,
    get_settings,
    parse_duration,
    port_checked,
    reporter,
    run,
)

__all__ = ["doctor", "serve", "sim", "worker"]


def sim(
    host: HostOpt = "127.0.0.1",
    port: Annotated[
        int, typer.Option(callback=port_checked, help="Port of the emulated Twilio REST API.")
    ] = 8766,
    personas: Annotated[Path | None, typer.Option(help="Callers (JSONL).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for generated callers.")] = 0,
    speed: Annotated[float, typer.Option(help="Time compression (1: real time).")] = 1.0,
    fault_create_429: Annotated[
        float, typer.Option(help="Share of creates refused with 429 (Twilio error 20429).")
    ] = 0.0,
    fault_create_500: Annotated[
        float, typer.Option(help="Share of creates refused with 500.")
    ] = 0.0,
    fault_slow_create: Annotated[
        float,
        typer.Option(
            help="Share of creates accepted (the call goes ahead) but answered only after "
            "--fault-slow-create-s: the caller sees a timeout after Twilio placed the call."
        ),
    ] = 0.0,
    fault_slow_create_s: Annotated[
        float, typer.Option(help="How late a slow create is answered, in seconds.")
    ] = 20.0,
    fault_drop_callbacks: Annotated[
        float, typer.Option(help="Share of status callbacks never sent.")
    ] = 0.0,
    fault_duplicate_callbacks: Annotated[
        float, typer.Option(help="Share of status callbacks sent twice.")
    ] = 0.0,
    fault_reorder_callbacks: Annotated[
        float,
        typer.Option(help="Share of progress callbacks held back so the next one overtakes them."),
    ] = 0.0,
) -> None:
    """Run the Twilio emulator standalone on loopback. Point VOICEDIAL_TWILIO_API_URL at it and
    use its account (printed) as TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN. The --fault-* options
    rehearse what Twilio and networks do (each a share from 0 to 1, drawn with --seed)."""
    # The emulator (starlette, the callers' brain) and pydantic-settings: imported here so that
    # the start-up of every command, --help and completion stays fast.
    from voicedial.emulator import run_emulator
    from voicedial.emulator.faults import Faults
    from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN

    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print("[red]error:[/] the emulator serves loopback only")
        raise typer.Exit(2)
    try:
        faults = Faults(
            create_429=fault_create_429,
            create_500=fault_create_500,
            slow_create=fault_slow_create,
            slow_create_s=fault_slow_create_s,
            drop_callbacks=fault_drop_callbacks,
            duplicate_callbacks=fault_duplicate_callbacks,
            reorder_callbacks=fault_reorder_callbacks,
            seed=seed,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    Console().print(
        f"Twilio emulator on http://{host}:{port}  account {SIM_ACCOUNT_SID}  "
        f"token {SIM_AUTH_TOKEN}"
    )
    run(
        lambda: run_emulator(
            host=host,
            port=port,
            account_sid=SIM_ACCOUNT_SID,
            auth_token=SIM_AUTH_TOKEN,
            personas_path=str(personas) if personas else None,
            seed=seed,
            speed=speed,
            faults=faults,
        )
    )


def serve(
    host: HostOpt = "0.0.0.0",
    port: PortOpt = 8765,
    provider: ProviderOpt = None,
    redis_grace: RedisGraceOpt = None,
) -> None:
    """Scale-out: the callback server alone (behind VOICEDIAL_PUBLIC_URL), for any campaign."""
    # The callback server and dialling stack: imported here so that --help and completion stay
    # fast.
    from voicedial.campaign.servers import run_server

    settings = get_settings(redis_grace_s=parse_duration(redis_grace, "--redis-grace"))
    shown = reporter(False)
    raise typer.Exit(
        run(lambda: run_server(settings, host=host, port=port, provider=provider, reporter=shown))
    )


def worker(
    campaign: Annotated[str, typer.Argument(help="A campaign started with `campaign run`.")],
    max_duration: Annotated[str | None, typer.Option(help="Stop after this long.")] = None,
    redis_grace: RedisGraceOpt = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            callback=port_checked,
            help="Also serve callbacks on this port (0: any free one); its calls then point "
            "here unless VOICEDIAL_PUBLIC_URL says otherwise. Without it the worker needs "
            "VOICEDIAL_PUBLIC_URL.",
        ),
    ] = None,
    host: HostOpt = "0.0.0.0",
) -> None:
    """Scale-out: one more dialling worker on a running campaign (shares its pace and cap)."""
    # The dialling stack: imported here so that --help and completion stay fast.
    from voicedial.campaign.servers import run_worker

    settings = get_settings(redis_grace_s=parse_duration(redis_grace, "--redis-grace"))
    shown = reporter(False)
    raise typer.Exit(
        run(
            lambda: run_worker(
                settings,
                campaign,
                shown,
                max_duration_s=parse_duration(max_duration, "--max-duration"),
                serve_at=None if port is None else (host, port),
            )
        )
    )


def doctor(host: HostOpt = "127.0.0.1", port: PortOpt = 8765) -> None:
    """Check Redis, Twilio credentials, the public URL, storage, the webhook and the OpenAI key;
    say what is wrong and how to fix it. Exit 0 when nothing fails, 2 otherwise."""
    # Every checked client (redis, twilio, boto3, openai): imported here so that --help and
    # completion stay fast.
    from voicedial.campaign.doctor import run_doctor

    settings = get_settings()
    checks = run(lambda: run_doctor(settings, host=host, port=port))
    table = Table(show_header=True, header_style="bold")
    for column in ("check", "", "detail", "how to fix"):
        table.add_column(column)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], check.detail, check.fix)
    Console().print(table)
    raise typer.Exit(2 if any(c.status == "fail" for c in checks) else 0)
