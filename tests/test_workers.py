"""Two `campaign run` processes on one campaign (cron overlap, a second machine) cooperate:
they share the pace and never dial a contact twice; a re-run dials nothing that finished."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support import cooperative, emulator, fictional_numbers, sim_env, voicedial, write_csv
from voicedial.emulator import Persona


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
        "20",
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
