"""Call leases and worker heartbeats: who is dialling or talking to which contact, and which
workers are still alive. A contact holds a lease (a score in its partition's `inflight` sorted
set: when it expires) from its claim until its call is settled; the concurrency cap counts live
leases, each partition up to its share (`cap_shares`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from redis.asyncio import Redis

from voicedial.state.keys import CampaignKeys, partition_of
from voicedial.state.partition import saved_count
from voicedial.state.replies import text, texts

__all__ = ["Leases", "cap_shares"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def cap_shares(cap: int, partitions: int) -> list[int]:
    """Each partition's share of a campaign's concurrency cap: the cap split as evenly as
    whole numbers go (the first `cap % partitions` get one more). A partition's claims keep
    its live leases within its share, so all of them together stay within the cap, whichever
    worker claims where and without a shared counter. Contacts are spread over partitions by
    hash, so the partitions drain together; near the end of a campaign the last contacts of
    one partition are dialled at that partition's share."""
    return [cap // partitions + (1 if k < cap % partitions else 0) for k in range(partitions)]


class Leases:
    """One campaign's call leases (in each partition's `inflight`) and its dialling workers'
    heartbeats (in partition 0)."""

    def __init__(self, redis: Redis, campaign: str) -> None:
        self.redis = redis
        self.campaign = campaign
        self.keys = CampaignKeys(campaign)
        self._parts: list[CampaignKeys] | None = None

    async def _partitions(self) -> list[CampaignKeys]:
        if self._parts is None:
            count = await saved_count(self.redis, self.campaign)
            if count is None:
                return [self.keys]  # not created yet: ask again next time
            self._parts = [CampaignKeys(self.campaign, k) for k in range(count)]
        return self._parts

    async def _of(self, contact_id: str) -> CampaignKeys:
        parts = await self._partitions()
        return parts[partition_of(contact_id, len(parts))]

    async def beat(self, worker: str, *, ttl_ms: int) -> None:
        """Say that `worker` is alive for `ttl_ms`."""
        await self.redis.set(self.keys.worker(worker), _now_ms(), px=ttl_ms)

    async def retire(self, worker: str) -> None:
        """`worker` has stopped: its leases are suspect now, not when its heartbeat runs out."""
        await self.redis.delete(self.keys.worker(worker))

    async def alive(self, workers: Iterable[str]) -> set[str]:
        """Which of `workers` have a live heartbeat."""
        names = sorted(set(workers))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.worker(name))
        return {n for n, ok in zip(names, await pipe.execute(), strict=True) if ok}

    async def expired(self) -> list[str]:
        """Contacts whose lease ran out: their worker died or a callback was lost."""
        now = _now_ms()
        found: list[str] = []
        for part in await self._partitions():
            found += texts(await self.redis.zrangebyscore(part.inflight, "-inf", now))
        return found

    async def held(self) -> list[tuple[str, str]]:
        """Every leased contact with the worker that claimed it ('' when unknown)."""
        out: list[tuple[str, str]] = []
        for part in await self._partitions():
            ids = texts(await self.redis.zrange(part.inflight, 0, -1))
            pipe = self.redis.pipeline(transaction=False)
            for cid in ids:
                pipe.hget(part.contact(cid), "worker")
            workers = [text(w) if w else "" for w in await pipe.execute()]
            out += zip(ids, workers, strict=True)
        return out

    async def extend(self, contact_id: str, *, for_ms: int) -> None:
        """Keep a contact's lease for `for_ms` more (its call is still going)."""
        part = await self._of(contact_id)
        await self.redis.zadd(part.inflight, {contact_id: _now_ms() + for_ms})

    async def drop(self, contact_id: str) -> None:
        """Remove a stale lease (its contact is no longer being called)."""
        await self.redis.zrem((await self._of(contact_id)).inflight, contact_id)
