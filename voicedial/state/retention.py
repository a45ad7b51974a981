"""How long a campaign's state stays in Redis, and deleting it.

A campaign that finishes (nothing left to dial, every profile stored and delivered or
dead-lettered) is stamped with when, and how long to keep it (`--retain`). Every `campaign run`
and `worker` first sweeps: campaigns whose retention has passed lose their Redis state (their
profiles, transcripts and audit trail stay in storage). A campaign run again before then is
no longer finished. `campaign purge` deletes one campaign's state at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from voicedial.state import keys
from voicedial.state.partition import saved_count
from voicedial.state.replies import text, texts

__all__ = ["mark_finished", "mark_running", "purge", "sweep"]

_SCAN_COUNT = 1000
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _now_ms() -> int:
    return int(time.time() * 1000)


async def mark_finished(redis: Redis, name: str, *, retain_s: float) -> None:
    """`name` has finished: keep its state `retain_s` more seconds."""
    meta = keys.CampaignKeys(name).meta
    await redis.hset(meta, mapping={"finished_at": _now_ms(), "retain_ms": int(retain_s * 1000)})


async def mark_running(redis: Redis, name: str) -> None:
    """`name` runs again (a re-run, a new list): not finished any more."""
    await redis.hdel(keys.CampaignKeys(name).meta, "finished_at", "retain_ms")


async def purge(redis: Redis, name: str) -> int:
    """Delete every key of campaign `name` (not the shared do-not-call set or hash key);
    returns how many. SCAN and UNLINK a thousand at a time: no long block of the server."""
    count = await saved_count(redis, name) or 1
    removed = 0
    for partition in reversed(range(count)):  # partition 0, which says how many, last
        prefix = keys.CampaignKeys(name, partition).prefix
        pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + ":*"
        async for batch in _batches(redis, pattern):
            removed += int(await redis.unlink(*batch))
    await redis.srem(keys.CAMPAIGNS, name)
    return removed


async def _batches(redis: Redis, pattern: str) -> AsyncIterator[list[str]]:
    batch: list[str] = []
    async for key in redis.scan_iter(match=pattern, count=_SCAN_COUNT):
        batch.append(text(key))
        if len(batch) >= _SCAN_COUNT:
            yield batch
            batch = []
    if batch:
        yield batch


async def sweep(redis: Redis) -> list[str]:
    """Purge every campaign whose retention has passed; returns their names."""
    purged = []
    now = _now_ms()
    for name in sorted(texts(await redis.smembers(keys.CAMPAIGNS))):
        finished, retain = await redis.hmget(
            keys.CampaignKeys(name).meta, "finished_at", "retain_ms"
        )
        if finished is None or retain is None:
            continue
        if now >= int(finished) + int(retain):
            await purge(redis, name)
            purged.append(name)
    return purged
