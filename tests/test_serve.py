"""`voicedial serve` delivers too: profiles a run left in the outbox (storage was down) are
stored by a server process alone, with no run or worker on the campaign."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.support import (
    Collector,
    campaign_options,
    cooperative,
    emulator,
    fictional_numbers,
    sim_env,
    sim_settings,
    spawn_voicedial,
    write_csv,
)
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_WORK_LEFT


@pytest.mark.timeout(90)
async def test_serve_stores_what_a_run_left_in_the_outbox(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(3)
    csv = write_csv(tmp_path / "left.csv", numbers)
    data = tmp_path / "data"
    data.write_text("a file where the storage folder should be")
    async with emulator({n: cooperative(n) for n in numbers}) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        request = RunRequest(csv=csv, options=campaign_options("left"), port=0, drain_s=1)
        assert await run_campaign(settings, request, Collector()) == EXIT_WORK_LEFT
        data.unlink()  # storage back, and nobody runs the campaign any more
        serve = await spawn_voicedial(
            *("serve", "--host", "127.0.0.1", "--port", "0"),
            env=sim_env(url, redis_url, tmp_path),
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 40
        try:
            while len(list(data.rglob("worker_profile.json"))) < 3:
                assert serve.returncode is None, "serve exited"
                assert time.monotonic() < deadline, "serve stored no profile"
                await asyncio.sleep(0.05)
        except BaseException:
            serve.kill()  # a failed test leaves no server behind
            await serve.wait()
            raise
        serve.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(serve.communicate(), 30)
        assert len(emu.calls) == 3  # nobody called again
    assert serve.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert len(list(data.rglob("worker_profile.json"))) == 3
