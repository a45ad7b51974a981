"""Redis outages, caused for real: a `redis-server` process of the test's own, killed with
SIGKILL and started again on its append-only file. Within `--redis-grace` every command waits
and goes on, callers hear a holding turn instead of an error; past it, calls are hung up and
the run exits 75 with one line, their contacts back in the queue for the next run. Assertions
are on the emulator's record of calls and the profiles in storage."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.redis_procs import RedisProc
from tests.support import (
    CALLER_ID,
    cooperative,
    emulator,
    fictional_numbers,
    make_contact,
    sim_env,
    spawn_voicedial,
    write_csv,
)
from voicedial.callbacks.server import CallbackServer
from voicedial.emulator.calls import SimCall
from voicedial.errors import RedisOutage
from voicedial.http import running_server
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, load_settings
from voicedial.state.autopipeline import AutoPipelinedRedis
from voicedial.state.connect import open_redis
from voicedial.state.embedded import stop_embedded
from voicedial.state.store import CampaignStore

SID = "CA" + "7" * 32
TOKEN = "test-token"


@pytest.fixture
def server() -> AsyncIterator[RedisProc]:
    with RedisProc() as proc:
        yield proc


async def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _finish(proc: asyncio.subprocess.Process, timeout: float) -> tuple[bytes, bytes]:
    """Its output once it exits; if it does not in time, killed, with what it said so far."""
    try:
        return await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        _, stderr = await proc.communicate()
        raise AssertionError(f"still running after {timeout} s:\n{stderr.decode()}") from None


async def _outage(server: RedisProc, seconds: float, down: asyncio.Event | None = None) -> None:
    """Kill the server (then set `down`); start it again (on its AOF) after `seconds`."""
    await asyncio.to_thread(server.kill9)
    if down is not None:
        down.set()
    await asyncio.sleep(seconds)  # how long the outage lasts: the fault itself, not a wait
    await asyncio.to_thread(server.start)


@pytest.mark.timeout(60)
async def test_commands_ride_out_a_restart_then_fail_fast_past_the_grace(
    server: RedisProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", server.url)
    settings = load_settings(redis_grace_s=3.0)
    async with open_redis(settings) as redis:
        piped = AutoPipelinedRedis(redis)
        await redis.set("k", "v")
        down = asyncio.Event()
        outage = asyncio.create_task(_outage(server, 1.0, down))
        await down.wait()
        # Issued while the server is down: both wait for it, then answer.
        assert await asyncio.gather(redis.get("k"), piped.get("k")) == [b"v", b"v"]
        await outage
        # Down for good: an error after the grace, then at once, until it answers again.
        await asyncio.to_thread(server.kill9)
        started = time.monotonic()
        with pytest.raises(RedisOutage):
            await redis.get("k")
        assert 3.0 <= time.monotonic() - started < 6.0
        started = time.monotonic()
        with pytest.raises(RedisOutage):
            await piped.get("k")
        assert time.monotonic() - started < 0.5
        await asyncio.to_thread(server.start)
        assert await redis.get("k") == b"v"
        await piped.aclose()


@pytest.mark.timeout(60)
async def test_a_gather_during_an_outage_holds_the_caller_and_keeps_the_answer(
    server: RedisProc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", server.url)
    async with open_redis(load_settings(redis_grace_s=30.0)) as redis:
        store = CampaignStore(redis, "hold")
        options = CampaignOptions(name="hold", from_number=CALLER_ID, account_sid=SIM_ACCOUNT_SID)
        await store.save_meta(options.model_dump(mode="json"))
        await store.import_contacts([make_contact("k1", fictional_numbers(1)[0])])
        await store.claim(limit=1, max_concurrent=5, lease_ms=60_000, worker="t")
        await store.record_dial("k1", SID, lease_ms=60_000)
        app = CallbackServer(
            redis=redis, auth_token=TOKEN, public_url="http://x", provider=None, hold_after_s=0.5
        )
        async with running_server(app.app) as url, httpx.AsyncClient() as http:
            app.public_url = url

            async def post(path: str, form: dict[str, str]) -> str:
                signature = RequestValidator(TOKEN).compute_signature(url + path, form)
                answer = await http.post(
                    url + path, data=form, headers={"X-Twilio-Signature": signature}
                )
                assert answer.status_code == 200, answer.text
                return answer.text

            call = {"CallSid": SID, "AccountSid": SIM_ACCOUNT_SID, "CallStatus": "in-progress"}
            opening = await post("/twilio/voice?c=hold&k=k1", call)
            assert "/twilio/gather?c=hold&amp;k=k1&amp;t=1" in opening
            await asyncio.to_thread(server.kill9)
            held = await post("/twilio/gather?c=hold&k=k1&t=1", {**call, "SpeechResult": "yes"})
            assert "One moment" in held and "<Redirect" in held
            redirect = held.split('method="POST">')[1].split("</Redirect>")[0]
            redirect = redirect.replace("&amp;", "&")
            assert "sr=yes" in redirect and "h=1" in redirect
            await asyncio.to_thread(server.start)
            # Twilio follows the Redirect without the caller's words; they are in its URL. The
            # pool may take a moment to reconnect: then the caller hears another holding turn.
            for _ in range(20):
                after = await post(redirect, call)
                if "One moment" not in after:
                    break
                redirect = after.split('method="POST">')[1].split("</Redirect>")[0]
                redirect = redirect.replace("&amp;", "&")
                assert "sr=yes" in redirect  # the answer stays on board
        await app.aclose()
        saved = await store.call(SID)
    assert "One moment" not in after and "<Gather" in after
    assert saved["turn"] == "2"  # the answer was taken once, as turn 1
    assert '"consent_given":true' in saved["interview"].replace(" ", "")


def _talking(emu_calls: dict[str, SimCall]) -> int:
    return sum(1 for c in emu_calls.values() if c.status == "in-progress")


def _overlapping(calls: list[SimCall]) -> bool:
    """Whether one person ever had two calls at once."""
    spans = sorted((c.created_at, c.ended_at or float("inf")) for c in calls)
    return any(later[0] < earlier[1] for earlier, later in pairwise(spans))


def _run_args(csv: Path, *extra: str) -> list[str]:
    return [
        "campaign",
        "run",
        str(csv),
        "--name",
        "outage",
        "--cps",
        "5",
        "--max-concurrent",
        "6",
        "--max-attempts",
        "3",
        "--retry-delay",
        "1s",
        "--port",
        "0",
        "--no-live",
        "--idle-exit",
        "5s",
        *extra,
    ]


@pytest.mark.timeout(120)
async def test_a_campaign_rides_out_a_redis_restart(server: RedisProc, tmp_path: Path) -> None:
    numbers = fictional_numbers(10)
    csv = write_csv(tmp_path / "outage.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
        env = sim_env(api, server.url, tmp_path)
        proc = await spawn_voicedial(*_run_args(csv), env=env, cwd=tmp_path)
        await _until(lambda: _talking(emu.calls) >= 3, "three interviews under way")
        await _outage(server, 3.0)
        _, stderr = await _finish(proc, 90)
        calls = list(emu.calls.values())
    errors = stderr.decode()
    assert proc.returncode == 0, errors
    assert "Traceback" not in errors
    assert Counter(c.to for c in calls) == Counter(numbers)  # everyone once, nobody twice
    assert all(c.status == "completed" and c.app_error is None for c in calls)
    profiles = list((tmp_path / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)


@pytest.mark.timeout(150)
async def test_past_the_grace_calls_are_hung_up_and_the_next_run_finishes_them(
    server: RedisProc, tmp_path: Path
) -> None:
    numbers = fictional_numbers(8)
    csv = write_csv(tmp_path / "outage.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}, speed=10) as (emu, api):
        env = sim_env(api, server.url, tmp_path)
        proc = await spawn_voicedial(*_run_args(csv, "--redis-grace", "2s"), env=env, cwd=tmp_path)
        await _until(lambda: _talking(emu.calls) >= 2, "two interviews under way")
        await asyncio.to_thread(server.kill9)
        killed = time.monotonic()
        _, stderr = await _finish(proc, 60)
        took = time.monotonic() - killed
        cut = [c for c in emu.calls.values() if any(e["type"] == "update" for e in c.events)]
        errors = [line for line in stderr.decode().splitlines() if line.strip()]
        assert proc.returncode == 75, stderr.decode()
        assert took < 30
        assert "Traceback" not in stderr.decode()
        assert [line for line in errors if line.startswith("error:")] == [errors[-1]]
        assert "Redis unreachable" in errors[-1] and "hung up" in errors[-1]
        await _until(lambda: not any(c.live for c in emu.calls.values()), "calls to end", 5)
        # Redis back: the next run puts the hung-up contacts back and finishes everyone.
        await asyncio.to_thread(server.start)
        emu.speed = 40  # the calls from now on: no need to catch them mid-interview
        again = await spawn_voicedial(*_run_args(csv), env=env, cwd=tmp_path)
        _, stderr = await _finish(again, 90)
        calls = list(emu.calls.values())
    assert again.returncode == 0, stderr.decode()
    by_number: dict[str, list[SimCall]] = {}
    for c in calls:
        by_number.setdefault(c.to, []).append(c)
    assert set(by_number) == set(numbers)
    assert not any(_overlapping(v) for v in by_number.values())
    assert cut, "no call was hung up"
    assert all(len(by_number[c.to]) >= 2 for c in cut)  # called again after the hang-up
    profiles = list((tmp_path / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)  # every interview finished, once


@pytest.mark.timeout(200)
async def test_the_run_restarts_its_embedded_redis_after_a_kill(tmp_path: Path) -> None:
    numbers = fictional_numbers(8)
    csv = write_csv(tmp_path / "outage.csv", numbers)
    home = Path(tempfile.mkdtemp(prefix="vdo-", dir="/tmp"))  # a unix socket path is short
    try:
        async with emulator({n: cooperative(n) for n in numbers}, speed=40) as (emu, api):
            env = sim_env(api, "", home)
            del env["REDIS_URL"]  # the embedded server under VOICEDIAL_HOME
            env["VOICEDIAL_STORAGE_URL"] = f"file://{tmp_path / 'data'}"
            proc = await spawn_voicedial(*_run_args(csv), env=env, cwd=tmp_path)
            await _until(lambda: _talking(emu.calls) >= 2, "two interviews under way")
            pid_file = home / "redis" / "redis.pid"
            first = int(pid_file.read_text())
            os.kill(first, signal.SIGKILL)
            # About 10 s here; on a machine so loaded that restarting the server outlasts
            # Twilio's 15 s for a status callback, the lost final callbacks are looked up
            # after quiet_after_s (60 s) instead.
            _, stderr = await _finish(proc, 150)
            calls = list(emu.calls.values())
        assert proc.returncode == 0, stderr.decode()
        assert "Traceback" not in stderr.decode()
        assert int(pid_file.read_text()) != first  # a new server, on the old one's AOF
        assert Counter(c.to for c in calls) == Counter(numbers)
        assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == len(numbers)
    finally:
        stop_embedded(home)
        shutil.rmtree(home, ignore_errors=True)


async def test_an_embedded_server_whose_data_is_gone_is_not_restarted_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = Path(tempfile.mkdtemp(prefix="vdo-", dir="/tmp"))
    try:
        monkeypatch.setenv("VOICEDIAL_HOME", str(home))
        async with open_redis(load_settings(redis_grace_s=0.5)) as redis:
            await redis.set("k", "v")
            stop_embedded(home)
            shutil.rmtree(home / "redis")  # its folder deleted: the AOF with it
            with pytest.raises(RedisOutage):
                await redis.get("k")
        assert not (home / "redis" / "redis.sock").exists()  # no empty server started
    finally:
        stop_embedded(home)
        shutil.rmtree(home, ignore_errors=True)
