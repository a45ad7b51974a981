"""Runs on one host cooperate: a second `campaign run` whose callback port is taken (cron
starting while the last run still dials, or another campaign beside it) takes a free port, or
joins the voicedial server that holds it, and never exits 1. Real processes, one emulator as
the ground truth of who was called."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

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


def _free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def _until(check: object, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_two_campaigns_and_a_cron_overlap_share_one_port(
    tmp_path: Path, redis_url: str
) -> None:
    first, second = fictional_numbers(12), fictional_numbers(24)[12:]
    port = _free_port()
    csv_a = write_csv(tmp_path / "a.csv", first)
    csv_b = write_csv(tmp_path / "b.csv", second)
    people = {n: cooperative(n) for n in first + second}
    async with emulator(people, speed=40) as (emu, api):
        env = sim_env(api, redis_url, tmp_path)
        common = ("--port", str(port), "--no-live", "--cps", "5", "--max-attempts", "1")
        a = await spawn_voicedial("campaign", "run", str(csv_a), *common, env=env, cwd=tmp_path)
        await _until(lambda: bool(emu.calls), "the first run's first call", 30)
        # Another campaign beside it, and the same campaign again (cron), on the same port.
        b, again = await asyncio.gather(
            voicedial("campaign", "run", str(csv_b), *common, env=env, cwd=tmp_path),
            voicedial("campaign", "run", str(csv_a), *common, env=env, cwd=tmp_path),
        )
        _, a_err = await asyncio.wait_for(a.communicate(), 90)
        calls = list(emu.calls.values())
    assert a.returncode == 0, a_err.decode()
    for done in (b, again):
        assert done.code == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert f"port {port} is in use" in b.stdout + b.stderr
    assert Counter(c.to for c in calls) == Counter(first + second)  # everyone once
    other_ports = {c.status_callback.split("/")[2] for c in calls} - {f"127.0.0.1:{port}"}
    assert other_ports, "the later runs' calls called back on their own ports"
    assert all(c.status == "completed" and c.app_error is None for c in calls)


@pytest.mark.timeout(60)
async def test_a_port_held_by_another_program_is_one_line_and_exit_2(
    tmp_path: Path, redis_url: str
) -> None:
    holder = bind_socket("127.0.0.1", 0)  # listening, never answering like voicedial
    port = int(holder.getsockname()[1])
    csv = write_csv(tmp_path / "x.csv", fictional_numbers(2))
    try:
        async with emulator() as (emu, api):
            env = sim_env(api, redis_url, tmp_path) | {
                "VOICEDIAL_PUBLIC_URL": f"http://127.0.0.1:{port}"
            }
            done = await voicedial(
                *("campaign", "run", str(csv), "--port", str(port), "--no-live"),
                env=env,
                cwd=tmp_path,
            )
            placed = len(emu.calls)
    finally:
        holder.close()
    assert done.code == 2, done.stderr
    assert f"--port {port} is in use by another program" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert placed == 0


@pytest.mark.timeout(90)
async def test_a_run_joins_the_voicedial_server_on_its_public_port(
    tmp_path: Path, redis_url: str
) -> None:
    numbers = fictional_numbers(6)
    port = _free_port()
    csv = write_csv(tmp_path / "joined.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
        env = sim_env(api, redis_url, tmp_path) | {
            "VOICEDIAL_PUBLIC_URL": f"http://127.0.0.1:{port}"
        }
        serve = await spawn_voicedial(
            "serve", "--host", "127.0.0.1", "--port", str(port), env=env, cwd=tmp_path
        )
        try:
            healthy = await _healthy(port, within=30)
            done = await voicedial(
                *("campaign", "run", str(csv), "--port", str(port), "--no-live"),
                *("--cps", "5", "--max-attempts", "1"),
                env=env,
                cwd=tmp_path,
            )
        finally:
            serve.terminate()
            await serve.communicate()
        calls = list(emu.calls.values())
    assert healthy
    assert done.code == 0, done.stderr
    assert "served by another voicedial process" in done.stdout + done.stderr
    assert Counter(c.to for c in calls) == Counter(numbers)
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)


async def _healthy(port: int, *, within: float) -> bool:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    return False
