"""The operator's side: the live view and status rendering, headless JSON logs, status --json
against its schema while a campaign runs in another process, pause/resume, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis.asyncio as aioredis
from rich.console import Console

from tests.support import (
    cooperative,
    emulator,
    fictional_numbers,
    sim_env,
    spawn_voicedial,
    voicedial,
    write_csv,
)
from voicedial.cli.view import render_live, render_status
from voicedial.emulator import Persona
from voicedial.state.snapshot import STATUS_SCHEMA, snapshot

SNAPSHOT: dict[str, Any] = {
    "schema_version": 1,
    "campaign": "spring-hiring",
    "exists": True,
    "control": "running",
    "provider": "twilio",
    "states": {"pending": 120, "in_call": 3, "completed": 41, "no_answer": 6, "waiting_window": 30},
    "attempts": {"pending": 0, "in_call": 4, "completed": 47, "no_answer": 18, "waiting_window": 0},
    "contacts": 200,
    "remaining": 153,
    "done": False,
    "calls_placed": 55,
    "pace": {"target_cps": 1.0, "cps_10s": 0.9, "cps_60s": 0.97},
    "concurrency": {"active": 3, "cap": 10},
    "due_now": 120,
    "next_due_at": 1_790_000_000_000,
    "outbox": {"pending": 2, "stored": 39, "delivered": 38, "dead": 1},
    "recent": [
        {
            "at": 1,
            "contact": "4f9a1c2b3d4e",
            "disposition": "completed",
            "attempt": 1,
            "duration_s": 171,
        }
    ],
    "in_progress": [{"contact": "a1b2c3d4e5f6", "state": "in_call", "elapsed_s": 95, "turns": 7}],
    "queue_time_ms": 0,
    "eta_s": 158,
}


def _text(renderable: Any) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_fixed_snapshot_matches_the_schema() -> None:
    jsonschema.validate(SNAPSHOT, STATUS_SCHEMA)


def test_live_view_renders_every_part_of_a_snapshot() -> None:
    text = _text(render_live(SNAPSHOT, elapsed_s=61))
    for piece in (
        "campaign spring-hiring",
        "ETA 2m38s",
        "elapsed 1m01s",
        "in_call",
        "47",
        "waiting_window",
        "30",
        "0.90",
        "3 / 10",
        "38 / 1",
        "a1b2c3d4e5f6",
        "4f9a1c2b3d4e",
        "completed",
        "171 s",
        "Twilio queue time",
        "0 ms",
    ):
        assert piece in text, piece


def test_status_table_renders_counts() -> None:
    text = _text(render_status(SNAPSHOT))
    assert "campaign spring-hiring (running)" in text
    for state, count in SNAPSHOT["states"].items():
        assert any(state in line and str(count) in line for line in text.splitlines())
    assert "2 / 38 / 1" in text


async def _until(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    proc: asyncio.subprocess.Process | None = None,
) -> None:
    """Poll `check` until true; fail at the deadline, or at once if `proc` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        if proc is not None and proc.returncode is not None:
            _, err = await proc.communicate()
            raise AssertionError(f"exited {proc.returncode} before {what}: {err.decode()}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await spawn_voicedial(*args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE)


async def _status(name: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """The campaign's status; {"in_progress": [], ...} until the run has registered it."""
    result = await voicedial("status", name, "--json", env=env, cwd=cwd)
    if result.code == 2 and "no campaign named" in result.stderr:
        return {"exists": False, "in_progress": [], "control": None, "concurrency": {"active": -1}}
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.timeout(60)
async def test_headless_status_schema_while_running_and_no_numbers_logged(
    tmp_path: Path, redis_url: str
) -> None:
    numbers = fictional_numbers(4)
    csv = write_csv(tmp_path / "live.csv", numbers)
    people = {n: cooperative(n) for n in numbers}
    client = aioredis.from_url(redis_url)
    async with emulator(people, speed=40) as (_, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        proc = await _spawn(
            ["campaign", "run", str(csv), "--port", "0", "--cps", "5"], env, tmp_path
        )

        async def in_call() -> bool:
            return bool((await snapshot(client, "live"))["in_progress"])

        await _until(in_call, 30, "a call in progress", proc)
        # now ask from another process, as an operator's script would
        status = await _status("live", env, tmp_path)
        jsonschema.validate(status, STATUS_SCHEMA)
        assert status["in_progress"] and status["remaining"] > 0
        out, err = await asyncio.wait_for(proc.communicate(), 45)
    await client.aclose()
    assert proc.returncode == 0, err.decode()
    assert status["in_progress"][0]["state"] in ("dialling", "in_call")
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert lines[0]["event"] == "notice" and "No real calls" in lines[0]["message"]
    assert {"imported", "finished"} <= {line["event"] for line in lines}
    assert lines[-1]["event"] == "finished" and lines[-1]["exit_code"] == 0
    everything = out.decode() + err.decode()
    for number in numbers:
        assert number[2:] not in everything


@pytest.mark.timeout(60)
async def test_pause_and_resume_from_another_process(tmp_path: Path, redis_url: str) -> None:
    # Enough numbers that the pause (a CLI process starting up, a second or two) lands while
    # the campaign is still dialling.
    numbers = fictional_numbers(60)
    csv = write_csv(tmp_path / "ctl.csv", numbers)
    async with emulator({n: Persona(phone=n, answer="busy") for n in numbers}) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        proc = await _spawn(
            ["campaign", "run", str(csv), "--port", "0", "--cps", "8", "--max-attempts", "1"],
            env,
            tmp_path,
        )

        async def started() -> bool:
            return len(emu.create_times) >= 3

        await _until(started, 20, "the first calls", proc)
        assert (await voicedial("campaign", "pause", "ctl", env=env, cwd=tmp_path)).code == 0
        paused_at = time.time()

        async def settled() -> bool:
            status = await _status("ctl", env, tmp_path)
            return status["control"] == "paused" and status["concurrency"]["active"] == 0

        await _until(settled, 20, "calls in progress to finish", proc)
        count = len(emu.create_times)
        await asyncio.sleep(1.0)  # a paused campaign places nothing, however long we look
        assert len(emu.create_times) == count
        assert count < len(numbers)
        resumed_at = time.time()
        assert (await voicedial("campaign", "resume", "ctl", env=env, cwd=tmp_path)).code == 0
        _, err = await asyncio.wait_for(proc.communicate(), 40)
    assert proc.returncode == 0, err.decode()
    assert sorted(c.to for c in emu.calls.values()) == sorted(numbers)
    # at most the one call already past its claim went out while paused
    assert sum(1 for t in emu.create_times if paused_at < t < resumed_at) <= 1


@pytest.mark.timeout(60)
async def test_ctrl_c_lets_calls_finish_exits_75_and_loses_no_profile(
    tmp_path: Path, redis_url: str
) -> None:
    numbers = fictional_numbers(8)
    csv = write_csv(tmp_path / "intr.csv", numbers)
    client = aioredis.from_url(redis_url)
    async with emulator({n: cooperative(n) for n in numbers}, speed=60) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        proc = await _spawn(
            ["campaign", "run", str(csv), "--port", "0", "--cps", "2"], env, tmp_path
        )

        async def talking() -> bool:
            status = await snapshot(client, "intr")
            return any(c["state"] == "in_call" for c in status["in_progress"])

        await _until(talking, 30, "a call in progress", proc)
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 40)
        status = await _status("intr", env, tmp_path)
    await client.aclose()
    assert proc.returncode == 75, err.decode()
    assert status["remaining"] > 0  # it stopped dialling
    assert status["concurrency"]["active"] == 0  # calls in progress were let finish
    assert status["outbox"]["pending"] == 0
    profiles = list((tmp_path / "home" / "data").glob("calls/profiles/*/*/worker_profile.json"))
    finished = status["states"].get("completed", 0) + status["states"].get("incomplete", 0)
    assert finished >= 1 and len(profiles) == finished
    assert len(emu.calls) < len(numbers)


@pytest.mark.timeout(60)
async def test_a_second_ctrl_c_hangs_up_and_puts_the_contacts_back(
    tmp_path: Path, redis_url: str
) -> None:
    numbers = fictional_numbers(6)
    csv = write_csv(tmp_path / "hard.csv", numbers)
    client = aioredis.from_url(redis_url)
    async with emulator({n: cooperative(n) for n in numbers}, speed=5) as (emu, url):
        env = sim_env(url, redis_url, tmp_path / "home")
        proc = await _spawn(
            ["campaign", "run", str(csv), "--port", "0", "--cps", "5"], env, tmp_path
        )

        async def talking() -> bool:
            status = await snapshot(client, "hard")
            return sum(c["state"] == "in_call" for c in status["in_progress"]) >= 2

        await _until(talking, 30, "two calls in progress", proc)
        proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.3)  # two signals sent back to back could merge into one
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 40)
        status = await _status("hard", env, tmp_path)
        ended = [c for c in emu.calls.values() if c.status == "completed"]
    await client.aclose()
    assert proc.returncode == 75, err.decode()
    assert len(ended) >= 2  # hung up through Twilio
    assert status["concurrency"]["active"] == 0
    # No interview finished: every contact is back in the queue, none final, no profile.
    assert set(status["states"]) <= {"pending", "retry_wait"}
    assert not list((tmp_path / "home" / "data").glob("calls/profiles/*/*/*.json"))
    audit = "".join(p.read_text() for p in (tmp_path / "home" / "data").rglob("audit/*/*.jsonl"))
    assert audit.count('"interrupted_by_operator"') >= 2
