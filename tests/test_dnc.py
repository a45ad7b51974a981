"""The shared do-not-call set: sharded by phone-hash prefix, one set per slot, so a cluster
spreads it over its nodes; the unsharded set of earlier versions is folded in on connect."""

from __future__ import annotations

import hashlib

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from tests.redis_procs import ClusterSet
from voicedial.settings import load_settings
from voicedial.state.connect import open_redis
from voicedial.state.dnc import DoNotCall
from voicedial.state.keys import DNC_LEGACY, dnc_shard


def _hashes(count: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(count)]


async def test_members_are_answered_in_the_order_asked(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    dnc = DoNotCall(client)
    listed, other = _hashes(300), _hashes(300, "x")
    for phone_hash in listed[::3]:
        await dnc.add(phone_hash)
    asked = [h for pair in zip(listed, other, strict=True) for h in pair]
    flags = await dnc.members(asked)
    on = set(listed[::3])
    assert flags == [h in on for h in asked]
    assert await dnc.everything(at_most=1000) == on
    assert await dnc.everything(at_most=99) is None  # 100 listed: too many to hold
    assert len({dnc_shard(h) for h in on}) > 50  # spread, not one set
    await client.aclose()


async def test_a_set_from_before_the_shards_is_folded_in_on_connect(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _hashes(2500, "old")
    client = aioredis.from_url(redis_url)
    await client.sadd(DNC_LEGACY, *old)
    monkeypatch.setenv("REDIS_URL", redis_url)
    async with open_redis(load_settings()) as redis:
        flags = await DoNotCall(redis).members(old)
    assert all(flags)
    assert not await client.exists(DNC_LEGACY)
    await client.aclose()


@pytest.mark.timeout(60)
async def test_on_a_cluster_the_shards_live_on_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = _hashes(200)
    with ClusterSet() as cluster:
        monkeypatch.setenv("REDIS_URL", cluster.url)
        async with open_redis(load_settings()) as redis:
            assert isinstance(redis, RedisCluster)
            dnc = DoNotCall(redis)
            for phone_hash in listed[:100]:
                await dnc.add(phone_hash)
            flags = await dnc.members(listed)
            nodes = {redis.get_node_from_key(dnc_shard(h)).name for h in listed[:100]}
    assert flags == [True] * 100 + [False] * 100
    assert len(nodes) == 3
    assert len({key_slot(dnc_shard(h).encode()) for h in listed}) > 100
