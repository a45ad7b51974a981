"""`voicedial replay-outbox` and `voicedial export`: options -> one library call -> exit code.
Registered on the app by `voicedial.cli.app`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from voicedial.cli.common import (
    EXIT_WORK_LEFT,
    CampaignArg,
    err,
    fail,
    get_settings,
    parse_duration,
    run,
)
from voicedial.errors import UsageError, VoicedialError

if TYPE_CHECKING:
    from voicedial.delivery.replay import ReplayItem, ReplaySummary

__all__ = ["export", "replay"]


def _since(text: str | None) -> datetime | None:
    """An ISO-8601 date or time (UTC unless it says otherwise), or a duration ago (30m, 2h)."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        ago = parse_duration(text, "--since") or 0.0
        return datetime.now(UTC) - timedelta(seconds=ago)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def replay(
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="Only this event (a call id or its webhook-id); repeatable."),
    ] = None,
    campaign: Annotated[
        list[str] | None,
        typer.Option("--campaign", help="Only this campaign; repeatable (default: all)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only events from this time on: 2026-11-25, 2026-11-25T09:00, or 2h (ago)."
        ),
    ] = None,
    all_events: Annotated[
        bool,
        typer.Option("--all", help="Every event in the outbox's history, not only dead letters."),
    ] = False,
    webhook_url: Annotated[
        str | None, typer.Option(help="Send to this URL instead of each event's own.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be sent; send nothing.")] = False,
) -> None:
    """Send webhook events again: the dead-lettered ones by default. Safe while campaigns run;
    each event keeps its webhook-id. Exit 0: all sent; 75: some failed or were refused."""
    # Redis, storage (boto3) and the webhook sender (aiohttp): imported here so that the
    # start-up of every command, --help and completion stays fast.
    from voicedial.delivery.replay import ReplayRequest, replay_outbox
    from voicedial.delivery.storage import open_storage
    from voicedial.delivery.webhooks import WebhookSender
    from voicedial.state.connect import open_redis

    settings = get_settings()
    try:
        since_at = _since(since)
    except VoicedialError as exc:
        raise fail(exc) from None
    request = ReplayRequest(
        campaigns=tuple(campaign or ()),
        event_ids=tuple(event or ()),
        since=since_at,
        all_events=all_events,
        webhook_url=webhook_url,
        default_url=settings.webhook_url,
        dry_run=dry_run,
    )
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    )
    task = progress.add_task("", total=None)

    def selected(total: int) -> None:
        progress.update(task, total=total)

    def done(item: ReplayItem) -> None:
        progress.update(task, advance=1, description=f"{item.event_id} {item.outcome}")

    async def go() -> ReplaySummary:
        sender = WebhookSender.from_settings(settings)
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        try:
            async with open_redis(settings) as redis:
                with progress:
                    return await replay_outbox(
                        redis, sender, request, storage=storage, on_selected=selected, on_item=done
                    )
        finally:
            await sender.aclose()

    summary = run(go)
    console = Console()
    for item in summary.items:
        if item.outcome != "delivered":
            line = f"{item.campaign}/{item.event_id}: {item.outcome}"
            console.print(
                line + (f" ({item.error})" if item.error else ""), highlight=False, soft_wrap=True
            )
    counts = summary.counts
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to replay"
    console.print(f"replay-outbox: {text}", highlight=False)
    if not summary.ok:
        raise typer.Exit(EXIT_WORK_LEFT)


def export(
    campaign: CampaignArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv, jsonl or parquet (default: from the file's suffix, else csv)."
        ),
    ] = None,
) -> None:
    """The campaign's results as one table: one row per contact (state, disposition, attempts,
    the profile's fields flattened). Contacts appear by id and phone_hash, never by number."""
    # Redis, storage (boto3) and the table writers (pandas, pyarrow): imported here so that
    # --help and completion stay fast.
    from voicedial.delivery.export import EXPORT_FORMATS, export_campaign
    from voicedial.delivery.storage import open_storage
    from voicedial.state.connect import open_redis

    chosen = fmt or {".jsonl": "jsonl", ".parquet": "parquet"}.get(output.suffix, "csv")
    settings = get_settings()

    async def go() -> int:
        if chosen not in EXPORT_FORMATS:
            raise UsageError(f"--format {chosen!r}: use one of {', '.join(EXPORT_FORMATS)}")
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        async with open_redis(settings) as redis:
            return await export_campaign(redis, storage, campaign, output, chosen)

    rows = run(go)
    Console(stderr=True).print(
        json.dumps({"rows": rows, "file": str(output), "format": chosen}), highlight=False
    )
