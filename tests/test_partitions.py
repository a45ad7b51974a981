"""A campaign split into partitions: each contact in the partition its id hashes to, its calls
and outbox events beside it, the concurrency cap held across partitions, and every reader
adding the partitions up. On one server partitions are just keys; the cluster tests show them
spread over nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support import (
    Collector,
    campaign_options,
    cooperative,
    emulator,
    fictional_numbers,
    make_contact,
    sim_settings,
    write_csv,
)
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_DONE
from voicedial.errors import UsageError
from voicedial.state import retention
from voicedial.state.keys import CampaignKeys, partition_of
from voicedial.state.leases import Leases, cap_shares
from voicedial.state.snapshot import snapshot
from voicedial.state.states import ContactState, Disposition
from voicedial.state.store import CampaignStore

_PARTS = 4
_CONTACTS = 40


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
async def store(client: aioredis.Redis) -> CampaignStore:
    store = CampaignStore(client, "split")
    assert await store.fix_partitions(_PARTS, max_concurrent=10) == _PARTS
    numbers = fictional_numbers(_CONTACTS)
    contacts = [make_contact(f"id{i:03d}", n) for i, n in enumerate(numbers)]
    assert await store.import_contacts(contacts) == (_CONTACTS, 0)
    await store.save_meta({"name": "split", "max_concurrent": 10})
    return store


def test_partition_zero_keeps_the_name_earlier_versions_used() -> None:
    assert CampaignKeys("acme").due == "vd:{c:acme}:due"
    assert CampaignKeys("acme", 0).prefix == "vd:{c:acme}"
    assert CampaignKeys("acme", 3).due == "vd:{p3:acme}:due"
    assert CampaignKeys("acme", 3).contact("x") == "vd:{p3:acme}:contact:x"


def test_contacts_spread_evenly_and_always_to_the_same_partition() -> None:
    spread = Counter(partition_of(f"{n:020x}", 8) for n in range(8000))
    assert sorted(spread) == list(range(8))
    assert all(800 <= n <= 1200 for n in spread.values()), spread
    assert partition_of("abc", 8) == partition_of("abc", 8)
    assert partition_of("abc", 1) == 0


def test_the_shares_of_the_cap_add_up_to_it() -> None:
    assert cap_shares(10, 4) == [3, 3, 2, 2]
    assert cap_shares(4, 4) == [1, 1, 1, 1]
    for cap in range(1, 40):
        for parts in range(1, cap + 1):
            shares = cap_shares(cap, parts)
            assert sum(shares) == cap and min(shares) >= 1, (cap, parts)


async def test_each_contact_lives_in_its_partition(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    for k in range(_PARTS):
        keys = CampaignKeys("split", k)
        ids = {i.decode() for i in await client.zrange(keys.due, 0, -1)}
        assert ids, f"partition {k} got no contacts"
        assert all(partition_of(i, _PARTS) == k for i in ids)
        for cid in ids:
            assert await client.exists(keys.contact(cid))
    assert await store.counts() == {"pending": _CONTACTS}
    assert (await snapshot(client, "split"))["states"] == {"pending": _CONTACTS}


async def test_the_cap_holds_across_partitions_and_workers(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    # Two workers, each with its own store, claim as hard as they can at once.
    other = CampaignStore(client, "split")

    async def grab(who: CampaignStore, name: str) -> list[str]:
        taken: list[str] = []
        for _ in range(10):
            taken += await who.claim(limit=7, max_concurrent=6, lease_ms=60_000, worker=name)
        return taken

    first, second = await asyncio.gather(grab(store, "a"), grab(other, "b"))
    assert not set(first) & set(second)
    leased = [await client.zcard(CampaignKeys("split", k).inflight) for k in range(_PARTS)]
    assert sum(leased) == 6, leased  # the cap, not more, whoever claimed where
    assert all(n <= share for n, share in zip(leased, cap_shares(6, _PARTS), strict=True))
    assert len(first) + len(second) == 6


async def test_one_partition_with_nothing_due_does_not_starve_a_claim(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    for k in range(1, _PARTS):  # only partition 0 has anything due
        await client.delete(CampaignKeys("split", k).due)
    due = await client.zcard(CampaignKeys("split", 0).due)
    for _ in range(_PARTS):  # whichever partition a claim asks first
        got = await store.claim(limit=1, max_concurrent=_PARTS, lease_ms=60_000, worker="w")
        assert len(got) == 1 and partition_of(got[0], _PARTS) == 0
        await store.release(got[0], state=ContactState.COMPLETED, due_ms=None, placed=True)
    assert await client.zcard(CampaignKeys("split", 0).due) == due - _PARTS


async def test_a_call_and_its_event_live_beside_the_contact(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    claimed = await store.claim(limit=_CONTACTS, max_concurrent=10, lease_ms=60_000, worker="w")
    assert len(claimed) == 10
    sids = {cid: f"CA{n:032x}" for n, cid in enumerate(claimed)}
    await store.record_dials([(cid, sid, None) for cid, sid in sids.items()], lease_ms=60_000)
    for cid, sid in sids.items():
        keys = CampaignKeys("split", partition_of(cid, _PARTS))
        assert await client.hget(keys.call(sid), "contact_id") == cid.encode()
        assert (await store.call(sid))["contact_id"] == cid  # found without the contact id
        assert await store.finish(
            sid,
            cid,
            state=ContactState.COMPLETED,
            disposition=Disposition.COMPLETED,
            call_status="completed",
            due_ms=None,
            event='{"v": 1}',
            recent={"at": 1},
        )
        assert await client.xlen(keys.outbox) >= 1
    events = sum([await client.xlen(CampaignKeys("split", k).outbox) for k in range(_PARTS)])
    assert events == 10
    status = await snapshot(client, "split")
    assert status["calls_placed"] == 10 and status["outbox"]["pending"] == 10
    assert status["states"] == {"completed": 10, "pending": _CONTACTS - 10}
    assert status["concurrency"]["active"] == 0
    assert await Leases(client, "split").held() == []


async def test_leases_are_found_in_every_partition(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    claimed = await store.claim(limit=8, max_concurrent=8, lease_ms=60_000, worker="w")
    leases = Leases(client, "split")
    assert sorted(cid for cid, _ in await leases.held()) == sorted(claimed)
    assert {partition_of(cid, _PARTS) for cid in claimed} == set(range(_PARTS))
    for cid in claimed:
        await store.expire_lease(cid, in_ms=-1)
    assert sorted(await leases.expired()) == sorted(claimed)


async def test_pausing_stops_claims_in_every_partition(store: CampaignStore) -> None:
    await store.set_control("paused")
    assert await store.claim(limit=10, max_concurrent=10, lease_ms=60_000, worker="w") == []
    assert await store.control() == "paused"
    await store.set_control("running")
    assert len(await store.claim(limit=10, max_concurrent=10, lease_ms=60_000, worker="w")) == 10


async def test_the_count_is_fixed_when_the_campaign_is_created(store: CampaignStore) -> None:
    again = CampaignStore(store.redis, "split")
    assert await again.fix_partitions(None, max_concurrent=10) == _PARTS
    with pytest.raises(UsageError, match="fixed when it was created"):
        await again.fix_partitions(2, max_concurrent=10)
    with pytest.raises(UsageError, match="below the campaign's 4 partitions"):
        await again.fix_partitions(None, max_concurrent=3)


async def test_a_campaign_from_before_partitions_reads_as_one(client: aioredis.Redis) -> None:
    old = CampaignKeys("old")
    await client.hset(old.meta, "options", "{}")  # what an earlier version left
    await client.hset(old.contact("c1"), mapping={"state": "pending", "attempts": 1})
    store = CampaignStore(client, "old")
    assert await store.saved_partitions() == 1
    assert (await store.contact("c1"))["state"] == "pending"
    assert await store.fix_partitions(None, max_concurrent=5) == 1


async def test_purge_deletes_every_partition(store: CampaignStore, client: aioredis.Redis) -> None:
    await store.claim(limit=5, max_concurrent=10, lease_ms=60_000, worker="w")
    assert await retention.purge(client, "split") > _CONTACTS
    left = [k async for k in client.scan_iter(match="*split*")]
    assert left == []


@pytest.mark.timeout(120)
async def test_a_partitioned_campaign_runs_to_the_end(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(30)
    csv = write_csv(tmp_path / "parts.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        options = campaign_options("parts", cps=50, max_concurrent=6)
        request = RunRequest(csv=csv, options=options, port=0, partitions=3, drain_s=10)
        told = Collector()
        assert await run_campaign(settings, request, told) == EXIT_DONE, told.notices
        calls = list(emu.calls.values())
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone, once
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)
    client = aioredis.from_url(redis_url)
    try:
        held = [await client.zcard(CampaignKeys("parts", k).due) for k in range(3)]
        done = [await client.hget(CampaignKeys("parts", k).counts, "completed") for k in range(3)]
        status = await snapshot(client, "parts")
    finally:
        await client.aclose()
    assert held == [0, 0, 0]
    assert all(int(n or 0) > 0 for n in done), done  # every partition had its share
    assert status["states"] == {"completed": len(numbers)}
    assert status["outbox"]["stored"] == len(numbers) and status["outbox"]["pending"] == 0


async def test_the_view_adds_partitions_up_at_one_instant_each(
    store: CampaignStore, client: aioredis.Redis
) -> None:
    claimed = await store.claim(limit=3, max_concurrent=10, lease_ms=60_000, worker="w")
    firsts = [
        await client.zrange(CampaignKeys("split", k).due, 0, 0, withscores=True)
        for k in range(_PARTS)
    ]
    earliest = min(int(first[0][1]) for first in firsts)
    counts, first = await store.view()
    assert counts == {"pending": _CONTACTS - 3, "dialling": 3} == await store.counts()
    assert first == earliest
    for k in range(_PARTS):
        await client.delete(CampaignKeys("split", k).due)
    assert (await store.view())[1] is None and len(claimed) == 3
