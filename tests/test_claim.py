"""The claim: due contacts read first, then taken by a script that names every key it touches
and re-checks each candidate (another worker may have taken it in between)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support import fictional_numbers, make_contact
from voicedial.state.store import CampaignStore


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CampaignStore]:
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "claims")
    numbers = fictional_numbers(5)
    await store.import_contacts([make_contact(f"k{i}", n) for i, n in enumerate(numbers)])
    yield store
    await client.aclose()


async def _claim(store: CampaignStore, *, limit: int = 10, cap: int = 10) -> list[str]:
    return await store.claim(limit=limit, max_concurrent=cap, lease_ms=60_000, worker="w")


async def test_only_contacts_due_by_the_servers_clock_are_taken(store: CampaignStore) -> None:
    later = int(time.time() * 1000) + 3_600_000
    await store.redis.zadd(store.keys.due, {"k0": later, "k1": later})  # not yet due
    assert sorted(await _claim(store)) == ["k2", "k3", "k4"]
    assert await store.redis.hget(store.keys.contact("k0"), "state") == b"pending"


async def test_the_cap_holds_and_the_earliest_go_first(store: CampaignStore) -> None:
    assert await _claim(store, cap=2) == ["k0", "k1"]
    assert await _claim(store, cap=2) == []  # both leases still held
    assert await _claim(store, cap=3) == ["k2"]
    assert await store.counts() == {"dialling": 3, "pending": 2}


async def test_a_candidate_taken_since_it_was_read_is_left_alone(store: CampaignStore) -> None:
    # What another worker's claim between the read and the script looks like to this one.
    keys = [store.keys.due, store.keys.inflight, store.keys.counts, store.keys.meta]
    await store.redis.zrem(store.keys.due, "k1")
    got = await store.scripts.claim(
        keys=[*keys, store.keys.contact("k0"), store.keys.contact("k1")],
        args=[10, 60_000, "w", "k0", "k1"],
    )
    assert got == [b"k0"]
    assert await store.redis.hget(store.keys.contact("k1"), "state") == b"pending"
    assert await store.redis.hget(store.keys.contact("k1"), "attempts") is None


async def test_a_paused_campaign_claims_nothing(store: CampaignStore) -> None:
    await store.set_control("paused")
    assert await _claim(store) == []
    await store.set_control("running")
    assert len(await _claim(store)) == 5
