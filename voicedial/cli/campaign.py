"""`voicedial campaign run|list|pause|resume|cancel`: options -> settings -> one library call ->
exit code. Registered on the app's `campaign` group by `voicedial.cli.app`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from voicedial.cli.common import (
    CampaignArg,
    HostOpt,
    JsonOpt,
    NameOpt,
    PortOpt,
    ProviderOpt,
    RedisGraceOpt,
    fail,
    get_settings,
    options_error,
    parse_duration,
    reporter,
    run,
)
from voicedial.errors import UsageError

__all__ = [
    "EMULATED_NOTICE",
    "SIM_NOTICE",
    "campaign_cancel",
    "campaign_list",
    "campaign_pause",
    "campaign_resume",
    "campaign_run",
]

_MOST_PARTITIONS = 1024

SIM_NOTICE = "No real calls are placed: provider is the Twilio emulator (sim)."
EMULATED_NOTICE = (
    "No real calls are placed: VOICEDIAL_TWILIO_API_URL is on loopback (the emulator)."
)


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
    partitions: Annotated[
        int | None,
        typer.Option(
            help="Split a new campaign's Redis state this many ways, fixed at creation "
            "(default: 1 on one server; 16 on a Redis Cluster, at most a quarter of "
            "--max-concurrent).",
        ),
    ] = None,
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
    redis_grace: RedisGraceOpt = None,
    retain: Annotated[
        str,
        typer.Option(
            help="Keep a finished campaign's Redis state this long (profiles, transcripts and "
            "the audit trail stay in storage); then the next run or worker deletes it."
        ),
    ] = "30d",
) -> None:
    """Import (or re-import) CSV, then dial until nothing is due, the window closes, or
    --max-duration passes. Exit 0: nothing left to dial; 75: work left (run again later);
    2: bad usage or input."""
    # The whole dialling stack (redis, pandas, twilio, starlette, the interviewer): imported
    # here so that the start-up of every other command, --help and completion stays fast.
    from pydantic import ValidationError

    from voicedial.campaign.run import RunRequest, run_campaign
    from voicedial.compliance.windows import parse_days, parse_hours
    from voicedial.dialing.account import account_for
    from voicedial.options import CampaignOptions

    settings = get_settings(
        public_url=public_url,
        webhook_url=webhook_url,
        redis_grace_s=parse_duration(redis_grace, "--redis-grace"),
    )

    async def go() -> int:
        if partitions is not None and not 1 <= partitions <= _MOST_PARTITIONS:
            raise UsageError(f"--partitions {partitions}: use 1 to {_MOST_PARTITIONS}")
        account = account_for(settings, provider)
        shown = reporter(live)
        if account.sim:
            shown.notice(SIM_NOTICE)
        elif account.emulated:
            shown.notice(EMULATED_NOTICE)
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
        retry_default = "2s" if account.sim else "1h"
        try:
            options = CampaignOptions(
                name=name or csv.stem,
                from_number=caller,
                account_sid=account.sid,
                provider="sim" if account.sim else "twilio",
                agent=agent or ("openai" if settings.openai_api_key else "scripted"),
                cps=cps,
                max_concurrent=max_concurrent,
                max_attempts=max_attempts,
                retry_delay_s=parse_duration(retry_delay or retry_default, "--retry-delay") or 0.0,
                windows_enforced=not account.emulated or bool(hours or days),
                region=region,
                record=record,
                webhook_url=settings.webhook_url,
                org_name=settings.org_name,
                retain_s=parse_duration(retain, "--retain") or 0.0,
                **window,
            )
        except ValidationError as exc:
            raise options_error(exc) from None
        request = RunRequest(
            csv=csv,
            options=options,
            dnc=dnc,
            max_duration_s=parse_duration(max_duration, "--max-duration"),
            dry_run=dry_run,
            partitions=partitions,
            host=host,
            port=port,
            personas=personas,
            sim_speed=sim_speed,
            idle_exit_s=parse_duration(idle_exit, "--idle-exit") or 0.0,
        )
        try:
            return await run_campaign(settings, request, shown)
        finally:
            shown.close()

    raise typer.Exit(run(go))


def campaign_list(as_json: JsonOpt = False) -> None:
    """Every campaign this Redis knows, with how many contacts are left."""
    # Redis client and snapshot: imported here so that --help and completion stay fast.
    from voicedial.state.connect import open_redis
    from voicedial.state.snapshot import campaign_names, snapshot

    settings = get_settings()

    async def go() -> list[dict[str, Any]]:
        async with open_redis(settings) as redis:
            return [await snapshot(redis, n) for n in await campaign_names(redis)]

    rows = run(go)
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


def campaign_pause(name: CampaignArg) -> None:
    """Stop placing new calls (calls in progress finish)."""
    _control(name, "paused")


def campaign_resume(name: CampaignArg) -> None:
    """Place calls again."""
    _control(name, "running")


def campaign_cancel(name: CampaignArg) -> None:
    """Stop the campaign for good: running workers exit 75 and place no new calls."""
    _control(name, "cancelled")


def campaign_purge(
    name: CampaignArg,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask; required without a terminal.")
    ] = False,
) -> None:
    """Delete a campaign's state from Redis now: its contacts, calls, counts and outbox.
    Profiles, transcripts and the audit trail in storage stay; the shared do-not-call set
    stays. A running campaign should be cancelled first."""
    # Redis client and store: imported here so that --help and completion stay fast.
    import sys

    from voicedial.state.connect import open_redis
    from voicedial.state.retention import purge
    from voicedial.state.store import CampaignStore

    settings = get_settings()
    if not yes:
        if not sys.stdin.isatty():
            raise fail(UsageError("campaign purge deletes state for good: pass --yes"))
        typer.confirm(f"Delete campaign {name}'s state from Redis?", abort=True)

    async def go() -> int:
        async with open_redis(settings) as redis:
            if await CampaignStore(redis, name).options() is None:
                raise UsageError(f"no campaign named {name!r}")
            return await purge(redis, name)

    removed = run(go)
    Console().print(f"campaign {name}: {removed} key(s) deleted")


def _control(name: str, value: str) -> None:
    # Redis client and store: imported here so that --help and completion stay fast.
    from voicedial.state.connect import open_redis
    from voicedial.state.store import CampaignStore

    settings = get_settings()

    async def go() -> None:
        async with open_redis(settings) as redis:
            store = CampaignStore(redis, name)
            if await store.options() is None:
                raise UsageError(f"no campaign named {name!r}")
            await store.set_control(value)

    run(go)
    Console().print(f"campaign {name}: {value}")
