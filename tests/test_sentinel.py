"""Redis behind Sentinel: the URL form, and a primary failover in the middle of a campaign,
caused by killing the primary (SIGKILL) of a real primary, replica and three sentinels. The run
goes on against the promoted replica: everyone called once, every profile stored."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.redis_procs import SentinelSet
from tests.support import (
    cooperative,
    emulator,
    fictional_numbers,
    make_contact,
    sim_env,
    spawn_voicedial,
    voicedial,
    write_csv,
)
from voicedial.errors import ConfigError
from voicedial.state.durability import sync_command
from voicedial.state.sentinel import SentinelTarget, parse_sentinel_url
from voicedial.state.store import CampaignStore


def test_the_sentinel_url_forms() -> None:
    assert parse_sentinel_url("redis+sentinel://h1:26380,h2/primary") == SentinelTarget(
        sentinels=(("h1", 26380), ("h2", 26379)), service="primary"
    )
    assert parse_sentinel_url("redis+sentinel://:s%40cret@[::1]:5000/svc/3") == SentinelTarget(
        sentinels=(("::1", 5000),), service="svc", db=3, password="s@cret"
    )
    assert parse_sentinel_url("redis+sentinel://app:pw@h:1/svc").username == "app"
    for bad in (
        "redis+sentinel://h1:26379",  # no service
        "redis+sentinel:///svc",  # no sentinel
        "redis+sentinel://h1:x/svc",  # port
        "redis+sentinel://h1/svc/zero",  # db
    ):
        with pytest.raises(ConfigError):
            parse_sentinel_url(bad)


@pytest.mark.timeout(60)
async def test_a_bad_sentinel_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = sim_env("http://127.0.0.1:9", "redis+sentinel://h1:26379", tmp_path)
    done = await voicedial("status", "x", env=env, cwd=tmp_path)
    assert done.code == 2
    assert done.stderr.strip().startswith("error:") and "service name" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    with SentinelSet() as group:
        yield group


def _talking(calls: dict[str, object]) -> int:
    return sum(1 for c in calls.values() if getattr(c, "status", "") == "in-progress")


@pytest.mark.timeout(120)
async def test_a_primary_failover_mid_campaign_loses_nothing(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    numbers = fictional_numbers(10)
    csv = write_csv(tmp_path / "failover.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
        env = sim_env(api, sentinels.url, tmp_path)
        proc = await spawn_voicedial(
            *("campaign", "run", str(csv), "--name", "failover"),
            *("--cps", "5", "--max-concurrent", "6", "--max-attempts", "1"),
            *("--port", "0", "--no-live", "--idle-exit", "5s"),
            env=env,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 30
        while _talking(emu.calls) < 2:
            assert time.monotonic() < deadline, "no interviews under way"
            await asyncio.sleep(0.01)
        old = await asyncio.to_thread(sentinels.kill_primary)
        new = await asyncio.to_thread(sentinels.wait_failover, old)
        _, stderr = await asyncio.wait_for(proc.communicate(), 90)
        calls = list(emu.calls.values())
    assert new != old
    assert proc.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone once, nobody twice
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)


@pytest.mark.timeout(60)
async def test_with_a_replica_a_claim_and_a_call_record_wait_for_it(
    sentinels: SentinelSet,
) -> None:
    client = aioredis.from_url(sentinels.primary.url)
    store = CampaignStore(client, "durable")
    await store.import_contacts([make_contact("k1", fictional_numbers(1)[0])])
    await client.config_resetstat()
    assert await store.claim(limit=1, max_concurrent=5, lease_ms=60_000, worker="w") == ["k1"]
    await store.record_dial("k1", "CA" + "5" * 32, lease_ms=60_000)
    waits = (await client.info("commandstats")).get("cmdstat_wait", {}).get("calls", 0)
    replica = aioredis.from_url(sentinels.replica.url)
    on_replica = await replica.hget(store.keys.contact("k1"), "last_call_sid")
    await client.aclose()
    await replica.aclose()
    assert waits == 2  # one for the claim, one for the call's record
    assert on_replica == b"CA" + b"5" * 32


def test_which_command_makes_an_intent_write_durable() -> None:
    def pick(version: str, fsync: str | None, replicas: int, aof: bool = True) -> object:
        return sync_command(
            version=version, aof=aof, appendfsync=fsync, replicas=replicas, timeout_ms=1000
        )

    assert pick("6.2.6", "always", 0) is None  # the embedded server: fsynced already
    assert pick("6.2.6", "everysec", 0) is None  # nothing to wait for (doctor warns)
    assert pick("6.2.6", "everysec", 1) == ("WAIT", 1, 1000)
    assert pick("7.2.4", "everysec", 0) == ("WAITAOF", 1, 0, 1000)
    assert pick("7.2.4", None, 2) == ("WAITAOF", 1, 1, 1000)  # CONFIG refused: assume not
    assert pick("7.2.4", "always", 1) == ("WAITAOF", 0, 1, 1000)
    assert pick("7.2.4", "everysec", 1, aof=False) == ("WAITAOF", 0, 1, 1000)
    assert pick("7.2.4", "always", 0) is None
    assert pick("7.0.15", "everysec", 1) == ("WAIT", 1, 1000)


@pytest.mark.timeout(60)
async def test_doctor_names_the_sentinel_set_up(sentinels: SentinelSet, tmp_path: Path) -> None:
    env = sim_env("http://127.0.0.1:9", sentinels.url, tmp_path) | {"COLUMNS": "250"}
    done = await voicedial("doctor", env=env, cwd=tmp_path)
    redis_row = next(line for line in done.stdout.splitlines() if "redis" in line)
    assert "sentinel vdmaster" in redis_row and "1 replica" in redis_row, done.stdout
