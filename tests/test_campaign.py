"""A campaign end to end in this process: embedded Redis, the twilio SDK over HTTP to the
emulator, the callback server over HTTP, the outbox to file storage. Nothing of voicedial's own
is mocked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support import (
    Collector,
    campaign_options,
    cooperative,
    emulator,
    fictional_numbers,
    personas,
    sim_settings,
    sliding_max,
    write_csv,
)
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_DONE, EXIT_WORK_LEFT
from voicedial.compliance.windows import CallingWindow
from voicedial.state.snapshot import snapshot
from voicedial.state.store import CampaignStore


@pytest.mark.timeout(60)
async def test_pacing_at_cps_10_never_exceeds_rate_plus_burst(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(60)
    csv = write_csv(tmp_path / "pace.csv", numbers)
    async with emulator(personas(numbers, answer="busy")) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        request = RunRequest(csv=csv, options=campaign_options("pace", cps=10), port=0)
        code = await run_campaign(settings, request, Collector())
    assert code == EXIT_DONE
    times = emu.create_times
    assert len(times) == 60
    assert max(times) - min(times) >= 5.0
    # burst is 1: never more than cps + 1 creates in any one-second window
    assert sliding_max(times) <= 11
    assert sorted(c.to for c in emu.calls.values()) == sorted(numbers)


@pytest.mark.timeout(60)
async def test_profiles_stored_for_consenting_humans_only(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(6)
    people = {n: cooperative(n) for n in numbers[:3]}
    people[numbers[3]] = cooperative(numbers[3]).model_copy(update={"consent": False})
    people[numbers[4]] = cooperative(numbers[4]).model_copy(update={"answer": "no-answer"})
    people[numbers[5]] = cooperative(numbers[5]).model_copy(update={"answer": "machine"})
    csv = write_csv(tmp_path / "mix.csv", numbers, extra={"team": "north"})
    async with emulator(people) as (_, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        code = await run_campaign(
            settings, RunRequest(csv=csv, options=campaign_options("mix"), port=0), Collector()
        )
    assert code == EXIT_DONE
    profiles = sorted((tmp_path / "data").glob("calls/profiles/*/*/worker_profile.json"))
    transcripts = sorted((tmp_path / "data").glob("calls/transcripts/*/*/transcript.json"))
    assert len(profiles) == 3 and len(transcripts) == 3
    for path in profiles:
        profile = json.loads(path.read_text())
        assert profile["schema_version"] == 1 and profile["consent_given"] is True
        assert profile["disposition"] == "completed"
        assert profile["context"] == {"team": "north"}
        assert profile["current_job"]["company"].lower().startswith("acme")
        assert path.parent.name == profile["call_id"]
    client = aioredis.from_url(redis_url)
    counts = await CampaignStore(client, "mix").counts()
    await client.aclose()
    assert counts == {"completed": 3, "declined": 1, "no_answer": 1, "voicemail": 1}
    stored = "".join(p.read_text() for p in (tmp_path / "data").rglob("*.json*"))
    for number in numbers:
        assert number not in stored and number[2:] not in stored
    audit = [
        json.loads(line)
        for p in (tmp_path / "data" / "audit").rglob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    kinds = sorted(row["event"] for row in audit)
    assert kinds.count("call_placed") == 6
    assert kinds.count("consent_given") == 3 and kinds.count("profile_stored") == 3
    assert kinds.count("consent_declined") == 1 and kinds.count("call_settled") == 2
    assert all(len(row["phone_hash"]) == 64 for row in audit)


@pytest.mark.timeout(60)
async def test_rerun_dials_nothing_that_finished_and_adds_new_rows(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(8)
    csv = write_csv(tmp_path / "again.csv", numbers[:5])
    async with emulator(personas(numbers, answer="busy")) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        request = RunRequest(csv=csv, options=campaign_options("again"), port=0)
        assert await run_campaign(settings, request, Collector()) == EXIT_DONE
        assert len(emu.calls) == 5
        assert await run_campaign(settings, request, Collector()) == EXIT_DONE
        assert len(emu.calls) == 5
        write_csv(csv, numbers)  # three new rows
        collector = Collector()
        assert await run_campaign(settings, request, collector) == EXIT_DONE
    assert collector.summary is not None
    assert (collector.summary.added, collector.summary.existing) == (3, 5)
    assert sorted(c.to for c in emu.calls.values()) == sorted(numbers)


@pytest.mark.timeout(60)
async def test_retries_until_max_attempts(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(2)
    csv = write_csv(tmp_path / "retry.csv", numbers)
    async with emulator(personas(numbers, answer="no-answer")) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        options = campaign_options("retry", max_attempts=3, retry_delay_s=0.2)
        code = await run_campaign(
            settings, RunRequest(csv=csv, options=options, port=0), Collector()
        )
    assert code == EXIT_DONE
    assert sorted(c.to for c in emu.calls.values()) == sorted(numbers * 3)
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "retry")
    assert await store.counts() == {"no_answer": 2}
    contact = (await store.contacts([c for c in [await _any_contact(client, "retry")]]))[0]
    await client.aclose()
    assert contact["attempts"] == "3"
    client = aioredis.from_url(redis_url)
    status = await snapshot(client, "retry")
    await client.aclose()
    assert status["attempts"] == {"no_answer": 6}  # calls made by the contacts in each state


async def _any_contact(client: aioredis.Redis, name: str) -> str:
    keys = [k async for k in client.scan_iter(match=f"vd:{{c:{name}}}:contact:*")]
    return keys[0].decode().rsplit(":", 1)[1]


@pytest.mark.timeout(60)
async def test_throttled_create_is_retried_not_lost(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(2)
    csv = write_csv(tmp_path / "busy.csv", numbers)
    async with emulator(personas(numbers, answer="busy")) as (emu, url):
        emu.inject_errors[numbers[0]] = [429, 500]
        settings = sim_settings(monkeypatch, url, tmp_path)
        code = await run_campaign(
            settings, RunRequest(csv=csv, options=campaign_options("throttle"), port=0), Collector()
        )
    assert code == EXIT_DONE
    assert sorted(c.to for c in emu.calls.values()) == sorted(numbers)


def _next_wednesday_15utc() -> datetime:
    day = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(7)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return day


@pytest.mark.timeout(60)
async def test_contacts_outside_their_window_wait(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Wednesday at 15:00 UTC is 10:00 in New York and 07:00 in Los Angeles.
    clock = _next_wednesday_15utc()
    east, west = "+12015550101", "+14155550102"
    csv = tmp_path / "window.csv"
    csv.write_text(f"phone,timezone\n{east},America/New_York\n{west},America/Los_Angeles\n")
    async with emulator(personas([east, west], answer="busy")) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        options = campaign_options("window", windows_enforced=True, days=[0, 1, 2, 3, 4])
        request = RunRequest(csv=csv, options=options, port=0, clock=lambda: clock)
        collector = Collector()
        code = await run_campaign(settings, request, collector)
    assert code == EXIT_WORK_LEFT
    assert [c.to for c in emu.calls.values()] == [east]
    assert collector.last is not None
    assert collector.last["states"] == {"busy": 1, "waiting_window": 1}
    opens = datetime.fromtimestamp(collector.last["next_due_at"] / 1000, UTC)
    assert opens == clock.replace(hour=17)  # 09:00 in Los Angeles
    assert CallingWindow().is_open(["America/New_York"], clock)


@pytest.mark.timeout(60)
async def test_opt_out_on_a_call_keeps_the_number_out_of_every_campaign(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = fictional_numbers(1)[0]
    csv = write_csv(tmp_path / "first.csv", [number])
    people = {number: cooperative(number).model_copy(update={"opt_out": True})}
    async with emulator(people) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        assert (
            await run_campaign(
                settings,
                RunRequest(csv=csv, options=campaign_options("first"), port=0),
                Collector(),
            )
            == EXIT_DONE
        )
        collector = Collector()
        code = await run_campaign(
            settings, RunRequest(csv=csv, options=campaign_options("second"), port=0), collector
        )
    assert code == EXIT_DONE
    assert len(emu.calls) == 1
    assert collector.summary is not None and collector.summary.reasons == {"do not call": 1}
    assert not list((tmp_path / "data").glob("calls/profiles/*/*/worker_profile.json"))


@pytest.mark.timeout(60)
async def test_recordings_of_consenting_calls_are_stored(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(2)
    people = {
        numbers[0]: cooperative(numbers[0]),
        numbers[1]: cooperative(numbers[1]).model_copy(update={"consent": False}),
    }
    csv = write_csv(tmp_path / "rec.csv", numbers)
    async with emulator(people) as (_, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        code = await run_campaign(
            settings,
            RunRequest(csv=csv, options=campaign_options("rec", record=True), port=0),
            Collector(),
        )
    assert code == EXIT_DONE
    audio = list((tmp_path / "data").glob("calls/audio/*/*/recording.wav"))
    profiles = list((tmp_path / "data").glob("calls/profiles/*/*/worker_profile.json"))
    assert len(audio) == 1 and len(profiles) == 1
    assert audio[0].parent.name == profiles[0].parent.name  # the consenting call's
    assert audio[0].read_bytes()[:4] == b"RIFF"
