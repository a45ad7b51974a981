"""`voicedial campaign run` as a real process, killed with SIGKILL mid-call, right after a
final status and mid-delivery, then restarted: every finished call's profile is stored and
delivered at least once (with the same webhook-id), and no number reaches storage."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support import cooperative, emulator, fictional_numbers, sim_env
from tests.test_delivery import SECRET, Receiver
from voicedial.http import bind_socket, running_server
from voicedial.state.keys import CampaignKeys
from voicedial.state.snapshot import snapshot


def zone_at_midday() -> str:
    """An IANA zone where it is about 13:00 now, so the calling window is open."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12  # -12 .. +11
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # Etc/GMT-3 is UTC+3


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    """Deadline poll."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Runs:
    """Start and kill `voicedial campaign run` processes on one callback port."""

    def __init__(self, csv: Path, env: dict[str, str], cwd: Path) -> None:
        sock = bind_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        sock.close()
        self.csv, self.env, self.cwd = csv, env, cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voicedial",
            "campaign",
            "run",
            str(self.csv),
            "--name",
            "crash",
            "--cps",
            "20",
            "--max-concurrent",
            "2",
            "--max-attempts",
            "1",
            "--port",
            str(self.port),
            "--no-live",
            "--days",
            "mon-sun",
            "--hours",
            "08:00-21:00",
            "--idle-exit",
            "5s",
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def finish(self, timeout: float = 40) -> tuple[int, str]:
        assert self.proc is not None
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        return self.proc.returncode or 0, err.decode()


@pytest.mark.timeout(90)
async def test_killed_runs_lose_no_profile(redis_url: str, tmp_path: Path) -> None:
    numbers = fictional_numbers(6)
    zone = zone_at_midday()
    csv = tmp_path / "crash.csv"
    csv.write_text(
        "id,name,phone,timezone\n"
        + "".join(f"X{i},Person {i},{n},{zone}\n" for i, n in enumerate(numbers))
    )
    receiver = Receiver()
    client = aioredis.from_url(redis_url)
    keys = CampaignKeys("crash")
    home = tmp_path / "home"

    async def stat(name: str) -> int:
        return int(await client.hget(keys.stats, name) or 0)

    async def expire_leases() -> None:
        # The dead worker's call leases would run out in ~12 min; let that time pass now.
        held = await client.zrange(keys.inflight, 0, -1)
        if held:
            await client.zadd(keys.inflight, dict.fromkeys(held, 0))

    try:
        async with (
            emulator({n: cooperative(n) for n in numbers}, speed=60) as (emu, api),
            running_server(receiver.app) as hooks,
        ):
            env = sim_env(api, redis_url, home)
            env.update(
                {
                    "VOICEDIAL_WEBHOOK_URL": f"{hooks}/hook",
                    "VOICEDIAL_WEBHOOK_SECRET": SECRET,
                    "VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS": "true",
                    "VOICEDIAL_WEBHOOK_SCHEDULE": "0,0.2s,0.5s,1s,2s,5s",
                }
            )
            runs = Runs(csv, env, tmp_path)

            # 1. mid-call: a call is answered and the interview under way.
            await runs.start()

            async def talking() -> bool:
                return any(
                    c.status == "in-progress"
                    and c.started_at is not None
                    and time.time() - c.started_at > 0.05
                    for c in emu.calls.values()
                )

            await until(talking, "a call in progress")
            await runs.kill()
            await expire_leases()

            # 2. right after a final status settles a call (and queues its event).
            before = await stat("finished_calls")
            await runs.start()

            async def settled() -> bool:
                return await stat("finished_calls") > before

            await until(settled, "a call to finish")
            await runs.kill()
            await expire_leases()

            # 3. mid-delivery: the receiver has the POST, the worker never hears back.
            receiver.hold = asyncio.Event()
            receiver.arrived.clear()
            await runs.start()
            try:
                await asyncio.wait_for(receiver.arrived.wait(), 30)
            except TimeoutError:
                state = await snapshot(client, "crash")
                code, err = (
                    (await runs.finish(5))
                    if runs.proc and runs.proc.returncode is not None
                    else (None, "still running")
                )
                raise AssertionError(
                    f"no delivery in run 3: exit {code}, {err}, {state['states']} {state['outbox']}"
                ) from None
            await runs.kill()
            receiver.hold.set()
            receiver.hold = None
            await expire_leases()

            # 4. a clean run finishes the campaign and drains the outbox.
            await runs.start()
            code, err = await runs.finish()
            assert code == 0, err
            status = await snapshot(client, "crash")
            stream = await client.xrange(keys.outbox)
            consented = set()  # every finished call in which the person said yes
            for sid in emu.calls:
                call = await client.hgetall(keys.call(sid))
                interview = json.loads(call.get(b"interview") or b"{}")
                if call.get(b"final") == b"1" and interview.get("consent_given"):
                    consented.add(sid)
    finally:
        await client.aclose()
    assert status["remaining"] == 0
    assert status["outbox"]["pending"] == 0 and status["outbox"]["dead"] == 0
    events = {
        event["call_id"]
        for event in (json.loads(f[b"event"]) for _, f in stream)
        if event["type"] == "worker_profile.completed"
    }
    assert events == consented and len(events) >= 2
    assert status["outbox"]["stored"] >= len(events)
    stored = {p.parent.name for p in (home / "data").rglob("worker_profile.json")}
    assert stored == events
    assert {f"msg_{e}" for e in events} <= set(receiver.delivered)
    assert receiver.forged == 0
    blob = b"".join(p.read_bytes() for p in (home / "data").rglob("*") if p.is_file())
    for number in numbers:
        assert number.encode() not in blob and number[2:].encode() not in blob
