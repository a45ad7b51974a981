"""The outbox's Redis side: a stream of settled calls with one consumer group, parked retries,
dead letters and consumer heartbeats. What an event means and what to do with it is
`voicedial.delivery`'s business; this module only moves entries and keeps the counts.

How an entry moves:

* The **stream** (`CampaignKeys.outbox`) holds work that may be done now. The consumer group
  hands each entry to one consumer; it stays in the group's pending list until acknowledged, so
  a consumer killed mid-work loses nothing: others take its entries over once its heartbeat
  key (`CampaignKeys.consumer`) has expired, and `XAUTOCLAIM` takes entries of one that hangs.
* Work that must wait is **parked**, in one MULTI/EXEC with the acknowledgement, as a record in
  the `deliveries` hash plus a due time in the `retry` sorted set. When due, one consumer moves
  it back onto the stream (WATCH on the sorted set, so exactly one does).
* **Dead letters** live in the `dead` hash (event id -> JSON), where replay finds them.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError, WatchError

from voicedial.process import shielded
from voicedial.state.keys import OUTBOX_GROUP, CampaignKeys
from voicedial.state.replies import Entry, entries, text, text_map, texts

__all__ = ["Entry", "EntryOutcome", "OutboxQueue", "Parked"]

_DEAD_CONSUMER_IDLE_MS = 500  # an entry is taken from a dead consumer once idle this long
_PROMOTE_BATCH = 64
_PAGE = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Parked:
    """Work put aside until `due_ms`: its id and the stream fields it goes back with."""

    id: str
    fields: Mapping[str, str | int]
    due_ms: int


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """What one pass over an entry came to, applied atomically with its acknowledgement."""

    done: bool  # finished: stored, and delivered or dead-lettered (or nothing to deliver)
    stored: bool = False  # its profile was stored in this pass
    delivered: bool = False  # its webhook was delivered in this pass
    park: Parked | None = None
    dead: tuple[str, str] | None = None  # (event id, dead-letter record JSON)


class OutboxQueue:
    """The outbox of one partition of a campaign in Redis (each partition has its own: the
    script that settles a call queues its event in the call's partition)."""

    def __init__(self, redis: Redis, campaign: str, partition: int = 0) -> None:
        self.redis = redis
        self.partition = partition
        self.keys = CampaignKeys(campaign, partition)

    # -- the group and heartbeats ------------------------------------------------------------
    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def beat(self, consumer: str, *, ttl_ms: int) -> None:
        """Say that `consumer` is alive for `ttl_ms`."""
        await self.redis.set(self.keys.consumer(consumer), "1", px=ttl_ms)

    async def forget(self, consumer: str) -> None:
        """Remove `consumer`'s heartbeat so others may take over its entries at once."""
        await self.redis.delete(self.keys.consumer(consumer))

    # -- counts ------------------------------------------------------------------------------
    async def pending(self) -> int:
        """Events not yet finished: unread, being handled, or parked for a later attempt.

        Counted as `stats.events` (finish.lua adds one per event) minus `stats.outbox_done`
        (added in the MULTI/EXEC that acknowledges a finished event): O(1), and right on Redis
        6.2, whose XINFO GROUPS has no `lag`."""
        queued, done = await self.redis.hmget(self.keys.stats, ["events", "outbox_done"])
        return max(0, int(queued or 0) - int(done or 0))

    async def due_before(self, deadline_ms: int) -> int:
        """Unfinished events that are, or fall, due before `deadline_ms`."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.keys.retry)
        pipe.zcount(self.keys.retry, "-inf", deadline_ms)
        parked, due = await pipe.execute()
        return max(0, await self.pending() - int(parked) + int(due))

    # -- taking work -------------------------------------------------------------------------
    async def read(self, consumer: str, *, count: int, block_ms: int) -> list[Entry] | None:
        """New entries for `consumer`; None when the group is gone (create it again)."""
        try:
            # {stream: [entries]}; redis-py types the reply as any reply of any command.
            read: Any = await self.redis.xreadgroup(
                OUTBOX_GROUP, consumer, {self.keys.outbox: ">"}, count=count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return None
        found: list[Entry] = []
        for _, items in read or []:
            found.extend(entries(items))
        return found

    async def take_over(self, consumer: str, *, count: int, idle_ms: int) -> list[Entry]:
        """Entries of consumers whose heartbeat is gone, then of any that sat `idle_ms`."""
        found: list[Entry] = []
        for info in await self.redis.xinfo_consumers(self.keys.outbox, OUTBOX_GROUP):
            name = text(info["name"])
            if name == consumer or await self.redis.exists(self.keys.consumer(name)):
                continue
            if int(info["pending"]) == 0:
                if int(info["idle"]) > idle_ms:  # tidy the group's member list
                    await self.redis.xgroup_delconsumer(self.keys.outbox, OUTBOX_GROUP, name)
                continue
            rows = await self.redis.xpending_range(
                self.keys.outbox, OUTBOX_GROUP, min="-", max="+", count=count, consumername=name
            )
            ids: list[int | bytes | str | memoryview] = [row["message_id"] for row in rows]
            if ids:
                found.extend(
                    entries(
                        await self.redis.xclaim(
                            self.keys.outbox,
                            OUTBOX_GROUP,
                            consumer,
                            min_idle_time=_DEAD_CONSUMER_IDLE_MS,
                            message_ids=ids,
                        )
                    )
                )
        reply = await self.redis.xautoclaim(
            self.keys.outbox,
            OUTBOX_GROUP,
            consumer,
            min_idle_time=idle_ms,
            start_id="0-0",
            count=count,
        )
        # Redis 7 adds a third element (deleted ids); 6.2 has two.
        found.extend(entries(reply[1]))
        return found

    async def promote_due(self) -> int:
        """Move parked work whose time has come back onto the stream (exactly once: WATCH)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.keys.retry)
                ids = texts(
                    await pipe.zrangebyscore(
                        self.keys.retry, "-inf", _now_ms(), start=0, num=_PROMOTE_BATCH
                    )
                )
                if not ids:
                    return 0
                records = await pipe.hmget(self.keys.deliveries, ids)
                pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                for member, record in zip(ids, records, strict=True):
                    if record is not None:
                        pipe.xadd(self.keys.outbox, json.loads(record))
                    pipe.zrem(self.keys.retry, member)
                    pipe.hdel(self.keys.deliveries, member)
                await pipe.execute()
            except WatchError:
                return 0  # another consumer moved them
        return len(ids)

    # -- finishing a pass --------------------------------------------------------------------
    async def settle(self, entry_id: bytes, outcome: EntryOutcome) -> None:
        """Acknowledge an entry together with what its pass changed, in one MULTI/EXEC."""
        keys = self.keys
        pipe = self.redis.pipeline(transaction=True)
        if outcome.stored:
            pipe.hincrby(keys.stats, "profiles_stored", 1)
        if outcome.delivered:
            pipe.hincrby(keys.stats, "webhooks_delivered", 1)
        if outcome.park is not None:
            parked = outcome.park
            pipe.hset(keys.deliveries, parked.id, json.dumps(dict(parked.fields)))
            pipe.zadd(keys.retry, {parked.id: parked.due_ms})
        if outcome.dead is not None:
            pipe.hset(keys.dead, *outcome.dead)
        if outcome.done:
            pipe.hincrby(keys.stats, "outbox_done", 1)
        pipe.xack(keys.outbox, OUTBOX_GROUP, entry_id)
        # Shielded: a cancelled loop must not leave the work done but unrecorded.
        results = await shielded(pipe.execute())
        if outcome.done and not results[-1]:
            # Another consumer finished this entry first (it took over from us while we
            # hung): count it once.
            await self.redis.hincrby(keys.stats, "outbox_done", -1)

    # -- dead letters and history (replay) ---------------------------------------------------
    async def dead_letters(self) -> dict[str, str]:
        """Every dead letter: event id -> its record (JSON)."""
        return text_map(await self.redis.hgetall(self.keys.dead))

    async def dead_letter(self, event_id: str) -> str | None:
        """One dead letter's record (JSON), or None when it is not (or no longer) dead."""
        raw = await self.redis.hget(self.keys.dead, event_id)
        return text(raw) if raw is not None else None

    async def set_dead_letter(self, event_id: str, record: str) -> None:
        """Write (or rewrite) a dead letter's record."""
        await self.redis.hset(self.keys.dead, event_id, record)

    async def replayed(self, event_id: str, *, was_dead: bool) -> None:
        """A replay delivered the event: count it; it is no longer a dead letter, and a retry
        still parked for it is dropped, so the outbox never delivers it once more."""
        pipe = self.redis.pipeline(transaction=True)
        if was_dead:
            pipe.hdel(self.keys.dead, event_id)
        pipe.hincrby(self.keys.stats, "webhooks_delivered", 1)
        pipe.zrem(self.keys.retry, event_id)
        pipe.hdel(self.keys.deliveries, event_id)
        results = await shielded(pipe.execute())
        if results[-1]:  # it was parked, hence pending: it is finished now
            await self.redis.hincrby(self.keys.stats, "outbox_done", 1)

    async def history(self, *, since_ms: int | None = None) -> AsyncIterator[tuple[int, str]]:
        """Every event still in the stream, oldest first, from `since_ms` on: (entry time in
        epoch ms, event JSON)."""
        start = f"{since_ms}-0" if since_ms is not None else "-"
        while True:
            page = entries(
                await self.redis.xrange(self.keys.outbox, min=start, max="+", count=_PAGE)
            )
            for entry_id, fields in page:
                if fields and b"event" in fields:
                    yield int(entry_id.split(b"-", 1)[0]), fields[b"event"].decode()
            if len(page) < _PAGE:
                return
            start = "(" + page[-1][0].decode()
