"""The outbox: profile events written by `finish.lua` in the same atomic step that settles a
call, consumed here by any worker (a Redis Streams consumer group), stored, then acknowledged.
Events claimed by a worker that died are taken over with XAUTOCLAIM."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from .errors import StorageError
from .keys import OUTBOX_GROUP, CampaignKeys
from .storage import Storage

__all__ = ["Outbox", "outbox_pending", "profile_key", "transcript_key"]

log = logging.getLogger("voicedial.outbox")
_RECLAIM_IDLE_MS = 30_000


def _day(event: dict[str, Any]) -> str:
    ended = (event.get("profile") or {}).get("call", {}).get("ended_at")
    if ended:
        return str(ended)[:10]
    return datetime.now(UTC).strftime("%Y-%m-%d")


def profile_key(event: dict[str, Any]) -> str:
    """Where a profile is stored (SPEC §8)."""
    return f"calls/profiles/{_day(event)}/{event['call_id']}/worker_profile.json"


def transcript_key(event: dict[str, Any]) -> str:
    """Where a transcript is stored (SPEC §8)."""
    return f"calls/transcripts/{_day(event)}/{event['call_id']}/transcript.json"


async def outbox_pending(redis: Redis, keys: CampaignKeys) -> int:
    """A campaign's events not yet acknowledged by the delivery group (read or unread)."""
    try:
        groups = await redis.xinfo_groups(keys.outbox)
    except ResponseError:
        return 0
    for group in groups:
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == OUTBOX_GROUP:
            return int(group["pending"]) + int(group.get("lag") or 0)
    return int(await redis.xlen(keys.outbox))


class Outbox:
    """Consumes one campaign's profile events."""

    def __init__(self, *, redis: Redis, campaign: str, storage: Storage, consumer: str) -> None:
        self.redis = redis
        self.keys = CampaignKeys(campaign)
        self.storage = storage
        self.consumer = consumer
        self.handled = 0

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def pending(self) -> int:
        """Events not yet acknowledged (read or unread)."""
        return await outbox_pending(self.redis, self.keys)

    async def process_once(self, *, block_ms: int = 200, count: int = 32) -> int:
        """Handle what is waiting (taking over stale claims first); returns how many."""
        await self.ensure_group()
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        reply = await self.redis.xautoclaim(
            self.keys.outbox, OUTBOX_GROUP, self.consumer, min_idle_time=_RECLAIM_IDLE_MS,
            start_id="0-0", count=count)
        entries.extend(reply[1])  # Redis 7 adds a third element (deleted ids); 6.2 has two
        if not entries:
            read = await self.redis.xreadgroup(OUTBOX_GROUP, self.consumer,
                                               {self.keys.outbox: ">"}, count=count,
                                               block=block_ms)
            for _, items in read or []:
                entries.extend(items)
        done = 0
        for entry_id, fields in entries:
            if not fields:  # trimmed away
                await self.redis.xack(self.keys.outbox, OUTBOX_GROUP, entry_id)
                continue
            event = json.loads(fields[b"event"])
            try:
                await self._handle(event)
            except StorageError as exc:
                # Left unacknowledged: another pass (or worker) takes it over later.
                log.warning("event %s not stored yet: %s", event.get("call_id"), exc)
                continue
            await asyncio.shield(self.redis.xack(self.keys.outbox, OUTBOX_GROUP, entry_id))
            done += 1
        self.handled += done
        return done

    async def _handle(self, event: dict[str, Any]) -> None:
        await self.storage.put_json(profile_key(event), event["profile"])
        await self.storage.put_json(transcript_key(event), event["transcript"])
        await self.redis.hincrby(self.keys.stats, "profiles_stored", 1)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set."""
        while not stop.is_set():
            await self.process_once()

    async def drain(self, timeout_s: float) -> int:
        """Handle what is pending, for at most `timeout_s`; returns what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if await self.pending() == 0:
                return 0
            await self.process_once(block_ms=100)
        return await self.pending()
