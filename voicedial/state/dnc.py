"""The do-not-call set shared by every campaign on one Redis, sharded by phone-hash prefix.

One set would grow without end on one cluster node (every opt-out and every `--dnc` list of
every campaign). The first two hex digits of a `phone_hash` (an HMAC, so evenly spread) pick
one of 256 sets, each its own hash tag (`vd:dnc:{3f}`), which a cluster spreads over its
nodes; a standalone server holds them all, at the same memory as one set.

The unsharded `vd:dnc` of earlier versions is folded into the shards on first use
(`migrate_legacy`), so opt-outs recorded before an upgrade keep counting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from voicedial.state.keys import DNC_LEGACY, dnc_shard
from voicedial.state.replies import texts

__all__ = ["DoNotCall", "migrate_legacy"]

_MOVE_BATCH = 1000


class DoNotCall:
    """Reads and writes of the shared do-not-call set."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def members(self, phone_hashes: Sequence[str]) -> list[bool]:
        """Which of these phone hashes are on the set (one round trip per node)."""
        if not phone_hashes:
            return []
        by_shard: dict[str, list[int]] = defaultdict(list)
        for i, phone_hash in enumerate(phone_hashes):
            by_shard[dnc_shard(phone_hash)].append(i)
        pipe = self.redis.pipeline(transaction=False)
        for shard, at in by_shard.items():
            pipe.smismember(shard, [phone_hashes[i] for i in at])
        flags = [False] * len(phone_hashes)
        for at, replies in zip(by_shard.values(), await pipe.execute(), strict=True):
            for i, flag in zip(at, replies, strict=True):
                flags[i] = bool(flag)
        return flags

    async def add(self, phone_hash: str) -> None:
        """Never call this number again, in any campaign."""
        await self.redis.sadd(dnc_shard(phone_hash), phone_hash)

    async def size(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for prefix in range(256):
            pipe.scard(dnc_shard(f"{prefix:02x}"))
        return sum(int(n) for n in await pipe.execute())

    async def everything(self, *, at_most: int) -> set[str] | None:
        """The whole set, or None when it holds more than `at_most`."""
        if await self.size() > at_most:
            return None
        pipe = self.redis.pipeline(transaction=False)
        for prefix in range(256):
            pipe.smembers(dnc_shard(f"{prefix:02x}"))
        return {member for shard in await pipe.execute() for member in texts(shard)}


async def migrate_legacy(redis: Redis) -> int:
    """Move the members of the unsharded set of earlier versions into the shards (each
    member is added before the old set loses it, so a crash midway loses none)."""
    moved = 0
    while True:
        some: Any = await redis.srandmember(DNC_LEGACY, _MOVE_BATCH)  # a list, given a count
        members = texts(some or [])
        if not members:
            return moved
        pipe = redis.pipeline(transaction=False)
        for phone_hash in members:
            pipe.sadd(dnc_shard(phone_hash), phone_hash)
        await pipe.execute()
        await redis.srem(DNC_LEGACY, *members)
        moved += len(members)
