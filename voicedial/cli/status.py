"""`voicedial status`: a campaign's snapshot as a table or JSON, once or every second.
Registered on the app by `voicedial.cli.app`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live

from voicedial.cli.common import JsonOpt, get_settings, run
from voicedial.cli.view import render_status
from voicedial.errors import UsageError

__all__ = ["status"]


def status(
    campaign: Annotated[str | None, typer.Argument(help="One campaign (default: all).")] = None,
    as_json: JsonOpt = False,
    watch: Annotated[bool, typer.Option(help="Refresh every second until Ctrl-C.")] = False,
) -> None:
    """Counts by state, pace, concurrency and outbox; works from any shell while a campaign
    runs, and after it ends."""
    # The Redis client (redis-py) and the event loop: imported here so that the start-up of
    # every command, --help and completion stays fast.
    import asyncio

    from voicedial.state.connect import open_redis
    from voicedial.state.snapshot import campaign_names, snapshot

    settings = get_settings()

    async def collect() -> list[dict[str, Any]]:
        async with open_redis(settings) as redis:
            names = [campaign] if campaign else await campaign_names(redis)
            out = [await snapshot(redis, n) for n in names]
        if campaign and not out[0]["exists"]:
            raise UsageError(f"no campaign named {campaign!r}")
        return out

    console = Console()

    def show(rows: list[dict[str, Any]]) -> RenderableType:
        if as_json:
            return json.dumps(rows[0] if campaign else rows)
        if not rows:
            return "no campaigns yet: start one with `voicedial campaign run CSV`"
        return Group(*(render_status(r) for r in rows))

    if not watch:
        rendered = show(run(collect))
        if isinstance(rendered, str) and as_json:
            print(rendered)
        else:
            console.print(rendered)
        return

    async def loop() -> None:
        with Live(console=console, refresh_per_second=2) as live:
            while True:
                live.update(show(await collect()))
                await asyncio.sleep(1.0)

    run(loop)
