"""Two `campaign run` processes on one campaign (cron overlap, a second machine) cooperate:
they share the pace and never dial a contact twice; a re-run dials nothing that finished; a
`worker` killed mid-call leaves nothing behind that the others do not finish."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis.asyncio as aioredis

from tests.support import (
    cooperative,
    emulator,
    fictional_numbers,
    sim_env,
    spawn_voicedial,
    voicedial,
    write_csv,
)
from voicedial.emulator import Persona
from voicedial.http import bind_socket
from voicedial.state.keys import CampaignKeys
from voicedial.state.store import CampaignStore


# Slow: the default run keeps two dialling processes on one campaign in
# test_a_worker_with_a_port_serves_its_own_calls (everyone once, from two processes).
@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_two_processes_never_dial_a_number_twice(tmp_path: Path, redis_url: str) -> None:
    numbers = fictional_numbers(40)
    people: dict[str, Persona] = {}
    for i, number in enumerate(numbers):
        people[number] = cooperative(number) if i % 4 == 0 else Persona(phone=number, answer="busy")
    csv = write_csv(tmp_path / "shared.csv", numbers)
    args = [
        "campaign",
        "run",
        str(csv),
        "--name",
        "shared",
        "--port",
        "0",
        "--cps",
        # Slow enough (5 s of dialling) that a process starting late on a loaded machine
        # still finds contacts to dial: the test checks both processes took part.
        "8",
        "--max-attempts",
        "1",
        "--max-concurrent",
        "30",
        "--no-live",
    ]
    async with emulator(people) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        first, second = await asyncio.gather(
            voicedial(*args, env=env, cwd=tmp_path), voicedial(*args, env=env, cwd=tmp_path)
        )
        assert (first.code, second.code) == (0, 0), first.stderr + second.stderr
        dialled = Counter(call.to for call in emu.calls.values())
        assert set(dialled) == set(numbers)
        assert max(dialled.values()) == 1
        # both processes dialled (each gives Twilio its own callback port)
        assert len({urlparse(c.status_callback).port for c in emu.calls.values()}) == 2
        # both processes took part (the claim is shared, not one process doing everything)
        rerun = await voicedial(*args, env=env, cwd=tmp_path)
        assert rerun.code == 0, rerun.stderr
        assert len(emu.calls) == len(numbers)
    profiles = list((tmp_path / "home" / "data").glob("calls/profiles/*/*/worker_profile.json"))
    assert len(profiles) == 10


@pytest.mark.timeout(120)
async def test_a_worker_killed_mid_call_loses_no_one_and_calls_no_one_twice(
    tmp_path: Path, redis_url: str
) -> None:
    numbers = fictional_numbers(24)
    csv = write_csv(tmp_path / "killw.csv", numbers)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    client = aioredis.from_url(redis_url)
    keys = CampaignKeys("killw")

    async def worker_talking(pid: int) -> bool:
        mine = f"{socket.gethostname()}-{pid}-".encode()
        for contact_id in await client.zrange(keys.inflight, 0, -1):
            state, worker = await client.hmget(keys.contact(contact_id.decode()), "state", "worker")
            if state == b"in_call" and (worker or b"").startswith(mine):
                return True
        return False

    async with emulator({n: cooperative(n) for n in numbers}, speed=20) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        run = await spawn_voicedial(
            *("campaign", "run", str(csv), "--name", "killw"),
            *("--port", str(port), "--cps", "3", "--max-concurrent", "8"),
            *("--max-attempts", "1", "--no-live", "--idle-exit", "20s"),
            env=env,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 30
        while not emu.calls:  # the campaign exists and dials
            assert time.monotonic() < deadline, "the run placed no call"
            await asyncio.sleep(0.01)
        worker = await spawn_voicedial(
            "worker",
            "killw",
            env=env | {"VOICEDIAL_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 30
        while not await worker_talking(worker.pid):
            if worker.returncode is not None or time.monotonic() > deadline:
                assert worker.stderr is not None
                detail = (await worker.stderr.read()).decode()
                raise AssertionError(f"no call under way: {worker.returncode} {detail}")
            await asyncio.sleep(0.01)
        worker.kill()  # SIGKILL: its claims, calls and outbox entries are orphaned
        await worker.wait()
        _, stderr = await asyncio.wait_for(run.communicate(), 100)
        dialled = Counter(call.to for call in emu.calls.values())
    await client.aclose()
    assert run.returncode == 0, stderr.decode()
    assert dialled == Counter(numbers)  # everyone once, nobody twice
    profiles = list((tmp_path / "home" / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)


@pytest.mark.timeout(120)
async def test_a_worker_with_a_port_serves_its_own_calls(tmp_path: Path, redis_url: str) -> None:
    numbers = fictional_numbers(24)
    csv = write_csv(tmp_path / "both.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        run = await spawn_voicedial(
            *("campaign", "run", str(csv), "--name", "both", "--port", "0"),
            *("--cps", "3", "--max-attempts", "1", "--no-live", "--idle-exit", "20s"),
            env=env,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 30
        while not emu.calls:  # the campaign exists and dials
            assert time.monotonic() < deadline, "the run placed no call"
            await asyncio.sleep(0.01)
        # Paused until the worker is up, so that a slow start cannot leave it nothing to do.
        client = aioredis.from_url(redis_url)
        store = CampaignStore(client, "both")
        await store.set_control("paused")
        # No VOICEDIAL_PUBLIC_URL: the worker's calls point at its own server.
        worker = await spawn_voicedial(
            *("worker", "both", "--host", "127.0.0.1", "--port", "0"), env=env, cwd=tmp_path
        )
        beats = CampaignKeys("both").worker("*")
        deadline = time.monotonic() + 60
        while len([k async for k in client.scan_iter(match=beats)]) < 2:
            assert time.monotonic() < deadline, "the worker never started"
            await asyncio.sleep(0.05)
        await store.set_control("running")
        await client.aclose()
        _, run_err = await asyncio.wait_for(run.communicate(), 100)
        _, worker_err = await asyncio.wait_for(worker.communicate(), 60)
        calls = list(emu.calls.values())
    assert run.returncode == 0, run_err.decode()
    assert worker.returncode == 0, worker_err.decode()
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone once
    ports = Counter(urlparse(c.status_callback).port for c in calls)
    assert len(ports) == 2, ports  # the run's server and the worker's each took calls
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    profiles = list((tmp_path / "home" / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)
