"""Call leases and worker heartbeats: who is dialling or talking to which contact, and which
workers are still alive. A contact holds a lease (a score in the `inflight` sorted set: when it
expires) from its claim until its call is settled; the concurrency cap counts live leases.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from redis.asyncio import Redis

from voicedial.state.keys import CampaignKeys
from voicedial.state.replies import text, texts

__all__ = ["Leases"]


def _now_ms() -> int:
    return int(time.time() * 1000)


class Leases:
    """One campaign's call leases and its dialling workers' heartbeats."""

    def __init__(self, redis: Redis, campaign: str) -> None:
        self.redis = redis
        self.keys = CampaignKeys(campaign)

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
        return texts(await self.redis.zrangebyscore(self.keys.inflight, "-inf", _now_ms()))

    async def held(self) -> list[tuple[str, str]]:
        """Every leased contact with the worker that claimed it ('' when unknown)."""
        ids = texts(await self.redis.zrange(self.keys.inflight, 0, -1))
        pipe = self.redis.pipeline(transaction=False)
        for cid in ids:
            pipe.hget(self.keys.contact(cid), "worker")
        workers = [text(w) if w else "" for w in await pipe.execute()]
        return list(zip(ids, workers, strict=True))

    async def extend(self, contact_id: str, *, for_ms: int) -> None:
        """Keep a contact's lease for `for_ms` more (its call is still going)."""
        await self.redis.zadd(self.keys.inflight, {contact_id: _now_ms() + for_ms})

    async def drop(self, contact_id: str) -> None:
        """Remove a stale lease (its contact is no longer being called)."""
        await self.redis.zrem(self.keys.inflight, contact_id)
