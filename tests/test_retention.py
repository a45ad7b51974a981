"""Retention: a finished campaign's Redis state is deleted once `--retain` has passed (by the
next run or worker), or at once by `campaign purge`; storage keeps the profiles. Ten campaigns
back to back leave Redis no bigger than one."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support import (
    Collector,
    campaign_options,
    emulator,
    fictional_numbers,
    make_contact,
    personas,
    sim_env,
    sim_settings,
    voicedial,
    write_csv,
)
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_DONE
from voicedial.state import retention
from voicedial.state.keys import CampaignKeys, dnc_shard
from voicedial.state.snapshot import campaign_names
from voicedial.state.store import CampaignStore


async def _keys_of(client: aioredis.Redis, name: str) -> list[bytes]:
    pattern = CampaignKeys(name).prefix.replace("[", "\\[") + ":*"
    return [key async for key in client.scan_iter(match=pattern)]


async def _dataset(client: aioredis.Redis) -> int:
    """Bytes held by the keys (MEMORY USAGE of each). INFO's `used_memory_dataset` is the
    server's total less its overhead, which takes in AOF-rewrite and client buffers: one
    rewrite during a run moved it by hundreds of KB."""
    total = 0
    async for key in client.scan_iter(count=1000):
        total += int(await client.memory_usage(key, samples=0) or 0)
    return total


async def test_purge_deletes_one_campaign_and_nothing_else(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    for name in ("gone", "kept", "gone[2]"):
        store = CampaignStore(client, name)
        await store.save_meta(campaign_options(name).model_dump(mode="json"))
        await store.import_contacts(
            [make_contact(f"{name}-{i}", n) for i, n in enumerate(fictional_numbers(5))]
        )
    await client.sadd(dnc_shard("ab" * 32), "ab" * 32)
    assert await retention.purge(client, "gone") > 5
    assert await _keys_of(client, "gone") == []
    assert len(await _keys_of(client, "gone[2]")) > 5  # a glob character in a name is literal
    assert len(await _keys_of(client, "kept")) > 5
    assert await campaign_names(client) == ["gone[2]", "kept"]
    assert await client.sismember(dnc_shard("ab" * 32), "ab" * 32)
    await client.aclose()


@pytest.mark.timeout(120)
async def test_ten_campaigns_back_to_back_leave_redis_no_bigger_than_one(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = aioredis.from_url(redis_url)
    base = await _dataset(client)
    grown: list[int] = []
    sizes: list[int] = []
    async with emulator(personas(fictional_numbers(100), answer="busy")) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        for run in range(10):
            numbers = fictional_numbers(100)  # the same people, a campaign each time
            csv = write_csv(tmp_path / f"r{run}.csv", numbers)
            options = campaign_options(f"r{run}", cps=200, max_attempts=1, retain_s=0)
            request = RunRequest(csv=csv, options=options, port=0, drain_s=10)
            told = Collector()
            assert await run_campaign(settings, request, told) == EXIT_DONE, (run, told.notices)
            grown.append(await _dataset(client) - base)
            sizes.append(await client.dbsize())
            # The run before this one was finished and kept for 0 s: this run deleted it.
            assert await campaign_names(client) == [f"r{run}"]
        assert len(emu.calls) == 1000
    for run in range(9):
        assert await _keys_of(client, f"r{run}") == []
    await client.aclose()
    assert sizes[-1] == sizes[1], sizes  # one campaign's keys, not ten campaigns'
    assert grown[-1] <= grown[1] * 2, grown  # flat, not ten campaigns' worth


@pytest.mark.timeout(60)
async def test_campaign_purge_asks_or_needs_yes(redis_url: str, tmp_path: Path) -> None:
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "old")
    await store.save_meta(campaign_options("old").model_dump(mode="json"))
    env = sim_env("http://127.0.0.1:9", redis_url, tmp_path)
    unasked = await voicedial("campaign", "purge", "old", env=env, cwd=tmp_path)
    assert unasked.code == 2 and "--yes" in unasked.stderr
    assert await campaign_names(client) == ["old"]
    unknown = await voicedial("campaign", "purge", "nope", "--yes", env=env, cwd=tmp_path)
    assert unknown.code == 2 and "no campaign named 'nope'" in unknown.stderr
    done = await voicedial("campaign", "purge", "old", "--yes", env=env, cwd=tmp_path)
    assert done.code == 0 and "key(s) deleted" in done.stdout
    assert await campaign_names(client) == []
    await client.aclose()
