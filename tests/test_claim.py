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
    receipt = store.keys.claim_receipt("t1")
    await store.redis.zrem(store.keys.due, "k1")
    got = await store.scripts.claim(
        keys=[*keys, receipt, receipt, store.keys.contact("k0"), store.keys.contact("k1")],
        args=[10, 60_000, "w", 60_000, "k0", "k1"],
    )
    assert got == [b"k0"]
    assert await store.redis.hget(store.keys.contact("k1"), "state") == b"pending"
    assert await store.redis.hget(store.keys.contact("k1"), "attempts") is None


async def test_a_paused_campaign_claims_nothing(store: CampaignStore) -> None:
    await store.set_control("paused")
    assert await _claim(store) == []
    await store.set_control("running")
    assert len(await _claim(store)) == 5


async def test_a_claim_sent_again_gets_the_same_contacts(store: CampaignStore) -> None:
    # What a retry looks like when the first reply was lost to a dropped connection: the
    # same script with the same receipt, run a second time.
    keys = [store.keys.due, store.keys.inflight, store.keys.counts, store.keys.meta]
    keys += [store.keys.claim_receipt("t2"), store.keys.claim_receipt("t2")]
    keys += [store.keys.contact("k0"), store.keys.contact("k1")]
    args = [10, 60_000, "w", 60_000, "k0", "k1"]
    first = await store.scripts.claim(keys=keys, args=args)
    again = await store.scripts.claim(keys=keys, args=args)
    assert first == again == [b"k0", b"k1"]
    assert await store.counts() == {"dialling": 2, "pending": 3}  # claimed once
    assert await store.redis.hget(store.keys.contact("k0"), "attempts") == b"1"
    assert 0 < await store.redis.pttl(store.keys.claim_receipt("t2")) <= 60_000
    # A claim that took nothing leaves no receipt behind, and drops the one before it.
    keys[4:6] = [store.keys.claim_receipt("t3"), store.keys.claim_receipt("t2")]
    assert await store.scripts.claim(keys=keys, args=args) == []
    assert not await store.redis.exists(store.keys.claim_receipt("t3"))
    assert not await store.redis.exists(store.keys.claim_receipt("t2"))


async def test_a_worker_keeps_one_receipt_at_a_time(store: CampaignStore) -> None:
    for _ in range(3):
        assert len(await _claim(store, limit=1)) == 1
    receipts = [k async for k in store.redis.scan_iter(match="*:claim:*")]
    assert len(receipts) == 1
