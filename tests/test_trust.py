"""The promises a dialler must keep, each shown by causing the situation for real: the embedded
Redis, the twilio SDK over HTTP to the emulator, the callback server over HTTP. Assertions are on
ground truth: the emulator's record of calls, the files in storage, the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support import (
    Collector,
    campaign_options,
    cooperative,
    emulator,
    fictional_numbers,
    make_contact,
    sim_env,
    sim_settings,
    sliding_max,
    voicedial,
    write_csv,
)
from voicedial.campaign.importer import import_csv
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.campaign.session import EXIT_DONE, EXIT_WORK_LEFT
from voicedial.dialing.dialer import Dialer
from voicedial.dialing.pacing import Pacer
from voicedial.dialing.twilio import TwilioProvider
from voicedial.emulator import Persona
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, load_settings
from voicedial.state.identity import shared_hash_key
from voicedial.state.pace import PaceBucket
from voicedial.state.store import CampaignStore


def _audit(data: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted((data / "audit").rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.timeout(60)
async def test_an_opt_out_in_one_campaign_stops_every_other(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(4)
    quitter = numbers[0]
    people = {n: cooperative(n) for n in numbers}
    people[quitter] = cooperative(quitter).model_copy(update={"opt_out": True})
    later = write_csv(tmp_path / "later.csv", numbers)
    first = write_csv(tmp_path / "first.csv", numbers)
    async with emulator(people) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        # Campaign "later" is imported before the opt-out happens, and dialled after it.
        client = aioredis.from_url(redis_url)
        summary = await import_csv(
            CampaignStore(client, "later"),
            later,
            region="US",
            hash_key=await shared_hash_key(client, settings.proposed_hash_key()),
            dnc=set(),
            rejects_dir=tmp_path / "rejects",
        )
        assert summary.added == 4
        await client.aclose()
        code = await run_campaign(
            settings, RunRequest(csv=first, options=campaign_options("first"), port=0), Collector()
        )
        assert code == EXIT_DONE
        code = await run_campaign(
            settings, RunRequest(csv=later, options=campaign_options("later"), port=0), Collector()
        )
        assert code == EXIT_DONE
        called = Counter(call.to for call in emu.calls.values())
    assert called[quitter] == 1  # in "first", where they asked not to be called again
    assert all(called[n] == 2 for n in numbers[1:])
    client = aioredis.from_url(redis_url)
    contact = (await CampaignStore(client, "later").counts()).get("do_not_call")
    await client.aclose()
    assert contact == 1
    skipped = [
        r
        for r in _audit(tmp_path / "data")
        if r.get("event") == "call_skipped" and r.get("campaign") == "later"
    ]
    assert [r.get("reason") for r in skipped] == ["do_not_call"]
    assert quitter not in json.dumps(skipped)  # by phone_hash, never the number


@pytest.mark.timeout(90)
async def test_one_phone_hash_key_per_redis(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(3)
    csv = write_csv(tmp_path / "people.csv", numbers)
    async with emulator({n: cooperative(n) for n in numbers}) as (emu, url):
        monkeypatch.setenv("VOICEDIAL_PHONE_HASH_KEY", "a" * 64)
        settings = sim_settings(monkeypatch, url, tmp_path)
        request = RunRequest(csv=csv, options=campaign_options("one"), port=0)
        assert await run_campaign(settings, request, Collector()) == EXIT_DONE
        # Another machine on the same Redis with another key: refused before anything happens.
        env = {
            **sim_env(url, redis_url, tmp_path / "other-home"),
            "VOICEDIAL_PHONE_HASH_KEY": "b" * 64,
        }
        other = await voicedial(
            "campaign", "run", str(csv), "--name", "two", "--no-live", env=env, cwd=tmp_path
        )
        # A third with no key of its own adopts the shared one: same people, same contacts.
        monkeypatch.delenv("VOICEDIAL_PHONE_HASH_KEY")
        monkeypatch.setenv("VOICEDIAL_HOME", str(tmp_path / "third-home"))
        summary = Collector()
        again = RunRequest(csv=csv, options=campaign_options("one"), port=0)
        assert await run_campaign(load_settings(), again, summary) == EXIT_DONE
        calls = len(emu.calls)
    assert other.code == 2
    assert len(other.stderr.strip().splitlines()) == 1 and "differs" in other.stderr
    client = aioredis.from_url(redis_url)
    assert not await CampaignStore(client, "two").exists()
    await client.aclose()
    assert summary.summary is not None
    assert (summary.summary.existing, summary.summary.added) == (3, 0)
    assert calls == 3  # nobody called twice


@pytest.mark.timeout(60)
async def test_exit_0_only_when_every_profile_is_stored(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(3)
    csv = write_csv(tmp_path / "store.csv", numbers)
    (tmp_path / "data").write_text("a file where the storage folder should be")
    async with emulator({n: cooperative(n) for n in numbers}) as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        broken = RunRequest(csv=csv, options=campaign_options("store"), port=0, drain_s=1)
        reporter = Collector()
        assert await run_campaign(settings, broken, reporter) == EXIT_WORK_LEFT
        assert len(emu.calls) == 3
        assert any("3 profile event(s) still pending" in n for n in reporter.notices)
        # Storage back: the next run dials no one and stores what was left.
        (tmp_path / "data").unlink()
        again = RunRequest(csv=csv, options=campaign_options("store"), port=0, drain_s=10)
        assert await run_campaign(settings, again, Collector()) == EXIT_DONE
        assert len(emu.calls) == 3
    assert len(list((tmp_path / "data" / "calls" / "profiles").rglob("*.json"))) == 3


@pytest.mark.timeout(60)
async def test_a_create_that_times_out_after_twilio_accepted_it_is_adopted(
    redis_url: str,
) -> None:
    number = fictional_numbers(1)[0]
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "slow")
    options = campaign_options("slow", cps=100)
    await store.save_meta(options.model_dump(mode="json"))
    await store.import_contacts([make_contact("k1", number)])
    async with emulator({number: Persona(phone=number, answer="busy")}, speed=50) as (emu, url):
        emu.slow_creates[number] = [3.0]  # accepted at once, answered after the client gave up
        provider = TwilioProvider(
            account_sid=SIM_ACCOUNT_SID, auth_token=SIM_AUTH_TOKEN, api_url=url, timeout_s=0.5
        )
        dialer = _dialer(store, options, provider, client)
        stop = asyncio.Event()
        task = asyncio.create_task(dialer.run(stop))
        for _ in range(400):  # until the dialler has recorded a call for the contact
            if (await store.contact("k1")).get("last_call_sid"):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await task
        await provider.aclose()
        calls = [c for c in emu.calls.values() if c.to == number]
        contact = await store.contact("k1")
    await client.aclose()
    assert len(calls) == 1  # one create reached Twilio; the retry found and adopted it
    assert contact["last_call_sid"] == calls[0].sid
    assert contact["attempts"] == "1"


@pytest.mark.timeout(60)
async def test_a_window_closed_for_everyone_exits_75_without_touching_contacts(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(800)  # in eight area codes, all the fictional ones there are
    csv = write_csv(tmp_path / "closed.csv", numbers)
    wednesday = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # noon on the US east coast
    async with emulator() as (emu, url):
        settings = sim_settings(monkeypatch, url, tmp_path)
        options = campaign_options("closed", windows_enforced=True, days=[5, 6])  # weekends only
        request = RunRequest(csv=csv, options=options, port=0, clock=lambda: wednesday)
        reporter = Collector()
        assert await run_campaign(settings, request, reporter) == EXIT_WORK_LEFT
        assert emu.calls == {}
    assert any("closed for every contact" in n for n in reporter.notices)
    client = aioredis.from_url(redis_url)
    counts = await CampaignStore(client, "closed").counts()
    await client.aclose()
    assert counts == {"pending": 800}  # judged in bulk, not moved one by one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _sim_process(*args: str) -> AsyncIterator[str]:
    """`voicedial sim` in a process of its own; yields its base URL."""
    port = _free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voicedial",
        "sim",
        "--port",
        str(port),
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{api}/_emulator/health")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield api
    finally:
        sim.terminate()
        await sim.wait()


def _dialer(
    store: CampaignStore, options: CampaignOptions, provider: TwilioProvider, client: Any
) -> Dialer:
    """The product's dialler on `store`, its callbacks going nowhere (no server listens)."""
    return Dialer(
        store=store,
        options=options,
        provider=provider,
        pacer=Pacer(PaceBucket(client, account_sid="AC" + options.name), cps=options.cps),
        public_url="http://127.0.0.1:9/twilio",
        worker_id="w",
    )


@pytest.mark.timeout(60)
async def test_late_pace_slots_are_skipped_never_fired_in_a_bunch(redis_url: str) -> None:
    # The emulator in a process of its own (`voicedial sim`), so this test's stalls of the
    # event loop hold back only the dialler, as a busy machine does.
    numbers = fictional_numbers(800)
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "late")
    options = campaign_options("late", cps=200, max_concurrent=2000)
    await store.save_meta(options.model_dump(mode="json"))
    await store.import_contacts([make_contact(f"k{i}", n) for i, n in enumerate(numbers)])
    async with _sim_process("--speed", "0.001") as api:
        provider = TwilioProvider(
            account_sid=SIM_ACCOUNT_SID, auth_token=SIM_AUTH_TOKEN, api_url=api
        )
        dialer = _dialer(store, options, provider, client)
        stop = asyncio.Event()

        async def hog() -> None:  # a loop held up now and then, as on a busy machine
            while not stop.is_set():
                await asyncio.sleep(0.45)
                time.sleep(0.08)

        tasks = [asyncio.create_task(dialer.run(stop)), asyncio.create_task(hog())]
        for _ in range(1000):  # deadline poll: until every number was dialled
            if dialer.placed >= len(numbers):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
        await provider.aclose()
        async with httpx.AsyncClient() as http:
            calls = (await http.get(f"{api}/_emulator/calls")).json()
    await client.aclose()
    assert len(calls) == len({c["to"] for c in calls}) == 800  # everyone once
    assert dialer.skipped_slots > 0  # the stalls did make slots late
    assert sliding_max([c["created_at"] for c in calls]) <= 201


@pytest.mark.timeout(90)
async def test_a_campaign_through_refused_creates_and_unruly_callbacks(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = fictional_numbers(24)
    csv = write_csv(tmp_path / "faults.csv", numbers)
    people = tmp_path / "personas.jsonl"
    people.write_text("".join(cooperative(n).model_dump_json() + "\n" for n in numbers))
    faults = [
        "--fault-create-429",
        "0.2",
        "--fault-create-500",
        "0.1",
        "--fault-duplicate-callbacks",
        "0.3",
        "--fault-reorder-callbacks",
        "0.3",
    ]
    async with _sim_process("--personas", str(people), "--speed", "30", *faults) as api:
        settings = sim_settings(monkeypatch, api, tmp_path)
        options = campaign_options("unruly", cps=20, max_attempts=3, retry_delay_s=0)
        request = RunRequest(csv=csv, options=options, port=0, drain_s=10)
        code = await run_campaign(settings, request, Collector())
        async with httpx.AsyncClient() as http:
            calls = (await http.get(f"{api}/_emulator/calls")).json()
            injected = (await http.get(f"{api}/_emulator/health")).json()["faults"]
    assert code == EXIT_DONE
    assert {"create-429", "create-500", "callback-duplicated", "callback-reordered"} <= set(
        injected
    )
    assert sorted(c["to"] for c in calls) == sorted(numbers)  # each person called once
    profiles = list((tmp_path / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)  # one each, duplicated callbacks notwithstanding


@pytest.mark.timeout(90)
async def test_calls_whose_final_callback_is_lost_are_settled_from_twilio(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the look-up, each such call would wait for its lease: ring timeout + time limit
    # + 2 minutes; the test's timeout is far shorter.
    numbers = fictional_numbers(12)
    csv = write_csv(tmp_path / "quiet.csv", numbers)
    people = tmp_path / "personas.jsonl"
    people.write_text("".join(cooperative(n).model_dump_json() + "\n" for n in numbers))
    drop = ("--fault-drop-callbacks", "0.5", "--seed", "3")
    async with _sim_process("--personas", str(people), "--speed", "30", *drop) as api:
        settings = sim_settings(monkeypatch, api, tmp_path)
        options = campaign_options("quiet", cps=20, quiet_after_s=2, ring_timeout_s=5)
        request = RunRequest(csv=csv, options=options, port=0, drain_s=10)
        code = await run_campaign(settings, request, Collector())
        async with httpx.AsyncClient() as http:
            calls = (await http.get(f"{api}/_emulator/calls")).json()
    lost_final = [
        c
        for c in calls
        if any(e["type"] == "callback-dropped" for e in c["events"])
        and c["events"][-1]["type"] == "callback-dropped"
    ]
    assert code == EXIT_DONE
    assert lost_final, "no final callback was dropped: the seed no longer exercises this"
    assert sorted(c["to"] for c in calls) == sorted(numbers)  # each person called once
    profiles = list((tmp_path / "data").rglob("worker_profile.json"))
    assert len(profiles) == len(numbers)
