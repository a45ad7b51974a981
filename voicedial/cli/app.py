"""The command line: options -> settings -> one library call -> exit code. No logic lives here."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from voicedial.campaign.run import RunRequest, run_campaign, run_server, run_worker
from voicedial.cli.view import LiveReporter, LogReporter, render_status
from voicedial.compliance.windows import parse_days, parse_hours
from voicedial.dialing.account import account_for
from voicedial.errors import UsageError, VoicedialError
from voicedial.logs import configure_logging
from voicedial.options import CampaignOptions
from voicedial.process import tune_gc
from voicedial.settings import Settings, load_settings
from voicedial.state.connect import open_redis
from voicedial.state.snapshot import campaign_names, snapshot
from voicedial.state.store import CampaignStore

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="Batch dialer with an AI phone interviewer. Calls a CSV of contacts "
    "through Twilio (or its emulator), interviews each consenting person about "
    "their work history, and stores and delivers a worker profile.",
)
campaign_app = typer.Typer(no_args_is_help=True, help="Run and control campaigns.")
app.add_typer(campaign_app, name="campaign")

err = Console(stderr=True)
SIM_NOTICE = "No real calls are placed: provider is the Twilio emulator (sim)."
EMULATED_NOTICE = (
    "No real calls are placed: VOICEDIAL_TWILIO_API_URL is on loopback (the emulator)."
)

# -- options declared once ---------------------------------------------------------------------
NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name", help="Campaign name (default: the CSV file's stem). Re-running a name resumes it."
    ),
]
ProviderOpt = Annotated[
    str | None,
    typer.Option(
        "--provider", help="twilio or sim (default: twilio when TWILIO_* are set, else sim)."
    ),
]
PortOpt = Annotated[int, typer.Option("--port", help="Callback server port (0: any free port).")]
HostOpt = Annotated[str, typer.Option("--host", help="Callback server address to bind.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _duration(text: str | None, what: str) -> float | None:
    """'90', '90s', '15m', '2h' -> seconds."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise UsageError(f"{what} {text!r}: use a number of seconds or 30s, 15m, 2h, 1d")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one library call; VoicedialError -> one red line and its exit code."""
    try:
        return asyncio.run(make())
    except VoicedialError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(75) from None


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except VoicedialError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _reporter(live: bool) -> LiveReporter | LogReporter:
    console = Console()
    interactive = live and console.is_terminal
    configure_logging(json_lines=not interactive)
    if interactive:
        return LiveReporter(console)
    return LogReporter()


# -- campaign run ------------------------------------------------------------------------------
@campaign_app.command("run")
def campaign_run(
    csv: Annotated[
        Path, typer.Argument(help="Contact list: a CSV with a phone column.", show_default=False)
    ],
    name: NameOpt = None,
    from_number: Annotated[
        str | None, typer.Option("--from", help="Caller ID (default: TWILIO_PHONE_NUMBER).")
    ] = None,
    cps: Annotated[
        float, typer.Option(help="Calls per second for the whole Twilio account.")
    ] = 1.0,
    max_concurrent: Annotated[int, typer.Option(help="Most calls in progress at once.")] = 10,
    max_attempts: Annotated[int, typer.Option(help="Calls per contact at most.")] = 3,
    retry_delay: Annotated[
        str | None,
        typer.Option(
            help="Wait before retrying no-answer/busy/failed/voicemail, doubling each time "
            "(default 1h; 2s with the emulator)."
        ),
    ] = None,
    hours: Annotated[
        str | None,
        typer.Option(help="Local calling hours, e.g. 09:00-20:00 (never outside 08:00-21:00)."),
    ] = None,
    days: Annotated[str | None, typer.Option(help="Local calling days, e.g. mon-fri.")] = None,
    region: Annotated[str, typer.Option(help="Region for national-format numbers.")] = "US",
    dnc: Annotated[
        Path | None, typer.Option(help="Do-not-call list (CSV or one per line).")
    ] = None,
    webhook_url: Annotated[str | None, typer.Option(help="Where profiles are POSTed.")] = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="URL at which Twilio reaches this process (VOICEDIAL_PUBLIC_URL)."),
    ] = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8765,
    provider: ProviderOpt = None,
    agent: Annotated[str | None, typer.Option(help="scripted or openai.")] = None,
    max_duration: Annotated[
        str | None,
        typer.Option(
            help="Stop placing calls after this long (e.g. 50m); exit 75 if work is left."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Import, validate and show the plan; dial nothing.")
    ] = False,
    record: Annotated[bool, typer.Option(help="Record consenting calls.")] = False,
    personas: Annotated[
        Path | None,
        typer.Option(help="Emulator callers (JSONL; default: personas.jsonl beside the CSV)."),
    ] = None,
    sim_speed: Annotated[float, typer.Option(help="Emulator time compression.")] = 20.0,
    idle_exit: Annotated[
        str,
        typer.Option(
            help="Exit 75 when nothing is due within this long (window closed, retries later)."
        ),
    ] = "5m",
    live: Annotated[bool, typer.Option(help="Live table (only on a terminal).")] = True,
) -> None:
    """Import (or re-import) CSV, then dial until nothing is due, the window closes, or
    --max-duration passes. Exit 0: nothing left to dial; 75: work left (run again later);
    2: bad usage or input."""
    settings = _settings(public_url=public_url, webhook_url=webhook_url)

    async def go() -> int:
        account = account_for(settings, provider)
        reporter = _reporter(live)
        if account.sim:
            reporter.notice(SIM_NOTICE)
        elif account.emulated:
            reporter.notice(EMULATED_NOTICE)
        caller = (
            from_number or settings.twilio_phone_number or ("+15005550006" if account.sim else None)
        )
        if caller is None:
            raise UsageError("no caller ID: pass --from or set TWILIO_PHONE_NUMBER")
        if agent not in (None, "scripted", "openai"):
            raise UsageError(f"--agent {agent!r}: use scripted or openai")
        if agent == "openai" and settings.openai_api_key is None:
            raise UsageError(
                "--agent openai needs OPENAI_API_KEY (and OPENAI_BASE_URL for a "
                "server other than OpenAI's)"
            )
        window: dict[str, Any] = {}
        if hours:
            window["hours_start"], window["hours_end"] = parse_hours(hours)
        if days:
            window["days"] = sorted(parse_days(days))
        options = CampaignOptions(
            name=name or csv.stem,
            from_number=caller,
            account_sid=account.sid,
            provider="sim" if account.sim else "twilio",
            agent=agent or ("openai" if settings.openai_api_key else "scripted"),
            cps=cps,
            max_concurrent=max_concurrent,
            max_attempts=max_attempts,
            retry_delay_s=_duration(retry_delay or ("2s" if account.sim else "1h"), "--retry-delay")
            or 0.0,
            windows_enforced=not account.emulated or bool(hours or days),
            region=region,
            record=record,
            webhook_url=settings.webhook_url,
            org_name=settings.org_name,
            **window,
        )
        request = RunRequest(
            csv=csv,
            options=options,
            dnc=dnc,
            max_duration_s=_duration(max_duration, "--max-duration"),
            dry_run=dry_run,
            host=host,
            port=port,
            personas=personas,
            sim_speed=sim_speed,
            idle_exit_s=_duration(idle_exit, "--idle-exit") or 0.0,
        )
        try:
            return await run_campaign(settings, request, reporter)
        finally:
            reporter.close()

    code = _run(go)
    raise typer.Exit(code)


@campaign_app.command("list")
def campaign_list(as_json: JsonOpt = False) -> None:
    """Every campaign this Redis knows, with how many contacts are left."""
    settings = _settings()

    async def go() -> list[dict[str, Any]]:
        async with open_redis(settings) as redis:
            return [await snapshot(redis, n) for n in await campaign_names(redis)]

    rows = _run(go)
    if as_json:
        print(
            json.dumps(
                [{k: r[k] for k in ("campaign", "control", "contacts", "remaining")} for r in rows]
            )
        )
        return
    console = Console()
    for r in rows:
        console.print(
            f"{r['campaign']}: {r['contacts']} contacts, {r['remaining']} left ({r['control']})"
        )


def _control(name: str, value: str) -> None:
    settings = _settings()

    async def go() -> None:
        async with open_redis(settings) as redis:
            store = CampaignStore(redis, name)
            if await store.options() is None:
                raise UsageError(f"no campaign named {name!r}")
            await store.set_control(value)

    _run(go)
    Console().print(f"campaign {name}: {value}")


@campaign_app.command("pause")
def campaign_pause(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Stop placing new calls (calls in progress finish)."""
    _control(name, "paused")


@campaign_app.command("resume")
def campaign_resume(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Place calls again."""
    _control(name, "running")


@campaign_app.command("cancel")
def campaign_cancel(name: Annotated[str, typer.Argument(help="Campaign name.")]) -> None:
    """Stop the campaign for good: running workers exit 75 and place no new calls."""
    _control(name, "cancelled")


# -- status ------------------------------------------------------------------------------------
@app.command()
def status(
    campaign: Annotated[str | None, typer.Argument(help="One campaign (default: all).")] = None,
    as_json: JsonOpt = False,
    watch: Annotated[bool, typer.Option(help="Refresh every second until Ctrl-C.")] = False,
) -> None:
    """Counts by state, pace, concurrency and outbox; works from any shell while a campaign
    runs, and after it ends."""
    settings = _settings()

    async def collect() -> list[dict[str, Any]]:
        async with open_redis(settings) as redis:
            names = [campaign] if campaign else await campaign_names(redis)
            out = [await snapshot(redis, n) for n in names]
        if campaign and not out[0]["exists"]:
            raise UsageError(f"no campaign named {campaign!r}")
        return out

    console = Console()

    def show(rows: list[dict[str, Any]]) -> Any:
        if as_json:
            return json.dumps(rows[0] if campaign else rows)
        if not rows:
            return "no campaigns yet: start one with `voicedial campaign run CSV`"
        from rich.console import Group

        return Group(*(render_status(r) for r in rows))

    if not watch:
        rendered = show(_run(collect))
        if isinstance(rendered, str) and as_json:
            print(rendered)
        else:
            console.print(rendered)
        return
    from rich.live import Live

    async def loop() -> None:
        with Live(console=console, refresh_per_second=2) as live:
            while True:
                live.update(show(await collect()))
                await asyncio.sleep(1.0)

    _run(loop)


# -- sim, serve, worker -------------------------------------------------------------------------
@app.command()
def sim(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the emulated Twilio REST API.")] = 8766,
    personas: Annotated[Path | None, typer.Option(help="Callers (JSONL).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for generated callers.")] = 0,
    speed: Annotated[float, typer.Option(help="Time compression (1: real time).")] = 1.0,
) -> None:
    """Run the Twilio emulator standalone on loopback. Point VOICEDIAL_TWILIO_API_URL at it and
    use its account (printed) as TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN."""
    from voicedial.emulator import run_emulator
    from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN

    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print("[red]error:[/] the emulator serves loopback only")
        raise typer.Exit(2)
    Console().print(
        f"Twilio emulator on http://{host}:{port}  account {SIM_ACCOUNT_SID}  "
        f"token {SIM_AUTH_TOKEN}"
    )
    _run(
        lambda: run_emulator(
            host=host,
            port=port,
            account_sid=SIM_ACCOUNT_SID,
            auth_token=SIM_AUTH_TOKEN,
            personas_path=str(personas) if personas else None,
            seed=seed,
            speed=speed,
        )
    )


@app.command()
def serve(host: HostOpt = "0.0.0.0", port: PortOpt = 8765, provider: ProviderOpt = None) -> None:
    """Scale-out: the callback server alone (behind VOICEDIAL_PUBLIC_URL), for any campaign."""
    settings = _settings()
    reporter = _reporter(False)
    raise typer.Exit(
        _run(
            lambda: run_server(settings, host=host, port=port, provider=provider, reporter=reporter)
        )
    )


@app.command()
def worker(
    campaign: Annotated[str, typer.Argument(help="A campaign started with `campaign run`.")],
    max_duration: Annotated[str | None, typer.Option(help="Stop after this long.")] = None,
) -> None:
    """Scale-out: one more dialling worker on a running campaign (shares its pace and cap)."""
    settings = _settings()
    reporter = _reporter(False)
    raise typer.Exit(
        _run(
            lambda: run_worker(
                settings,
                campaign,
                reporter,
                max_duration_s=_duration(max_duration, "--max-duration"),
            )
        )
    )


@app.command()
def doctor(host: HostOpt = "127.0.0.1", port: PortOpt = 8765) -> None:
    """Check Redis, Twilio credentials, the public URL, storage, the webhook and the OpenAI key;
    say what is wrong and how to fix it. Exit 0 when nothing fails, 2 otherwise."""
    from rich.table import Table

    from voicedial.campaign.doctor import run_doctor

    settings = _settings()
    checks = _run(lambda: run_doctor(settings, host=host, port=port))
    table = Table(show_header=True, header_style="bold")
    for column in ("check", "", "detail", "how to fix"):
        table.add_column(column)
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], check.detail, check.fix)
    Console().print(table)
    raise typer.Exit(2 if any(c.status == "fail" for c in checks) else 0)


def main() -> None:
    """Console-script entry point: unexpected errors become one line and exit 1."""
    tune_gc()
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:
        err.print(
            f"[red]unexpected error:[/] {type(exc).__name__}: {exc}",
            highlight=False,
            soft_wrap=True,
        )
        if "--debug" in sys.argv or __import__("os").environ.get("VOICEDIAL_DEBUG"):
            traceback.print_exc()
        sys.exit(1)


# The commands of other modules register themselves on `app` when imported.
from voicedial.cli import delivery, eval  # noqa: E402,F401
