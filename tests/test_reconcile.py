"""Reconciliation after a worker dies: a contact whose last call's fate is unknown is settled
from what Twilio (the emulator, over HTTP) says, before it is ever dialled again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from tests.support import CALLER_ID, cooperative, emulator, make_contact
from voicedial.campaign.reconcile import Reconciler
from voicedial.dialing.provider import CallRequest
from voicedial.dialing.twilio import TwilioProvider
from voicedial.emulator import Emulator, Persona
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN
from voicedial.state.leases import Leases
from voicedial.state.pace import PaceBucket
from voicedial.state.store import CampaignStore

NUMBER = "+12015550177"
NOWHERE = "http://127.0.0.1:9/twilio"  # callbacks of the dead worker's server go nowhere


@dataclass
class Rig:
    emu: Emulator
    store: CampaignStore
    provider: TwilioProvider
    reconciler: Reconciler

    async def claim_as_dead_worker(self) -> None:
        claimed = await self.store.claim(
            limit=1, max_concurrent=5, lease_ms=600_000, worker="dead-worker"
        )
        assert claimed == ["c1"]

    async def call_out(self) -> str:
        placed = await self.provider.place_call(
            CallRequest(
                to=NUMBER,
                from_=CALLER_ID,
                url=f"{NOWHERE}/voice",
                status_callback=f"{NOWHERE}/status",
                amd_callback=f"{NOWHERE}/amd",
            )
        )
        return placed.sid


async def _rig(redis_url: str, persona: Persona, speed: float) -> AsyncIterator[Rig]:
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "rec")
    options = CampaignOptions(
        name="rec",
        from_number=CALLER_ID,
        account_sid=SIM_ACCOUNT_SID,
        max_attempts=3,
        retry_delay_s=60,
    )
    await store.save_meta(options.model_dump(mode="json"))
    await store.import_contacts([make_contact("c1", NUMBER)])
    async with emulator({NUMBER: persona}, speed=speed) as (emu, url):
        provider = TwilioProvider(
            account_sid=SIM_ACCOUNT_SID, auth_token=SIM_AUTH_TOKEN, api_url=url
        )
        reconciler = Reconciler(
            store=store,
            options=options,
            provider=provider,
            leases=Leases(store.redis, store.name),
            worker_id="alive-worker",
        )
        yield Rig(emu, store, provider, reconciler)
        await provider.aclose()
    await client.aclose()


@pytest.fixture
async def busy(redis_url: str) -> AsyncIterator[Rig]:
    async for rig in _rig(redis_url, Persona(phone=NUMBER, answer="busy"), 200):
        yield rig


@pytest.fixture
async def talking(redis_url: str) -> AsyncIterator[Rig]:
    async for rig in _rig(redis_url, cooperative(NUMBER), 1):
        yield rig


async def test_claim_without_a_call_is_freed(busy: Rig) -> None:
    await busy.claim_as_dead_worker()
    assert await busy.reconciler.run_once() == 1
    assert await busy.store.counts() == {"pending": 1}
    contact = await busy.store.contact("c1")
    assert contact["attempts"] == "0"  # the claim's attempt was given back
    assert len(busy.emu.calls) == 0


async def test_call_placed_just_before_the_crash_is_found_and_settled(busy: Rig) -> None:
    await busy.claim_as_dead_worker()
    sid = await busy.call_out()  # the worker died before recording this call
    await busy.emu.wait_idle(10)
    assert await busy.reconciler.run_once() == 1
    assert await busy.store.counts() == {"retry_wait": 1}
    contact = await busy.store.contact("c1")
    assert contact["last_call_sid"] == sid and contact["disposition"] == "busy"
    assert len(busy.emu.calls) == 1  # nothing dialled again


async def test_live_call_of_a_dead_worker_is_never_overlapped(talking: Rig) -> None:
    await talking.claim_as_dead_worker()
    sid = await talking.call_out()
    await talking.store.record_dial("c1", sid, lease_ms=600_000)
    assert await talking.reconciler.run_once() == 0
    assert await talking.store.counts() == {"dialling": 1}
    claimed = await talking.store.claim(limit=5, max_concurrent=5, lease_ms=1000, worker="x")
    assert claimed == []
    await asyncio.wait_for(talking.provider.hangup(sid), 10)


async def test_number_twilio_calls_invalid_is_settled_not_retried(busy: Rig) -> None:
    from voicedial.dialing.dialer import Dialer
    from voicedial.dialing.pacing import Pacer

    bad = make_contact("bad", "+15550000000", row=2)
    await busy.store.redis.delete(busy.store.keys.due)  # only the bad contact is due
    await busy.store.import_contacts([bad])
    options = CampaignOptions(
        name="rec",
        from_number=CALLER_ID,
        account_sid=SIM_ACCOUNT_SID,
        windows_enforced=False,
        cps=100,
    )
    dialer = Dialer(
        store=busy.store,
        options=options,
        provider=busy.provider,
        pacer=Pacer(PaceBucket(busy.store.redis, account_sid="ACtest"), cps=100),
        public_url=NOWHERE,
        worker_id="w",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(dialer.run(stop))
    try:
        for _ in range(200):
            if (await busy.store.counts()).get("invalid"):
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    assert (await busy.store.counts())["invalid"] == 1
    contact = await busy.store.contact("bad")
    assert contact["attempts"] == "1" and contact["reason"] == "twilio 21211"
    assert len(busy.emu.calls) == 0


async def test_a_call_twilio_does_not_know_settles_once_without_a_profile(busy: Rig) -> None:
    # The worker died mid-interview and its emulator (the only "Twilio" that knew the call)
    # died with it: the call record holds a consenting interview, Twilio answers 404.
    from voicedial.interview import start_interview

    await busy.claim_as_dead_worker()
    lost = "CA" + "0" * 31 + "9"
    await busy.store.record_dial("c1", lost, lease_ms=600_000)
    state, _ = start_interview(caller_name=None, org_name="Acme", now_year=2026)
    state.consent_given = True
    await busy.store.update_call(lost, "c1", interview=state.model_dump_json(), answered_at=1)
    await busy.store.expire_lease("c1", in_ms=-1)  # its worker is long gone
    assert await busy.reconciler.run_once() == 1
    assert await busy.reconciler.run_once() == 0  # settled once
    assert await busy.store.counts() == {"retry_wait": 1}
    events = await busy.store.redis.xrange(busy.store.keys.outbox)
    assert len(events) == 1
    event = json.loads(events[0][1][b"event"])
    assert event["type"] == "call.settled" and "profile" not in event
    assert event["outcome"]["disposition"] == "failed"
