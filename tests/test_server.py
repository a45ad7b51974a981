"""The callback server over real HTTP with a real Redis: signatures, idempotent callbacks,
malformed and oversized requests, TwiML turns, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
import redis.asyncio as aioredis
from twilio.request_validator import RequestValidator

from tests.support import CALLER_ID
from voicedial.contacts import Contact
from voicedial.http import running_server
from voicedial.options import CampaignOptions
from voicedial.server import CallbackServer
from voicedial.settings import SIM_ACCOUNT_SID
from voicedial.store import CampaignStore

TOKEN = "test-token"
SID = "CA" + "1" * 32
NUMBER = "+12015550111"


@dataclass
class Rig:
    url: str
    http: httpx.AsyncClient
    store: CampaignStore
    contact_id: str

    def signed(self, path: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
        signature = RequestValidator(token).compute_signature(self.url + path, form)
        return {"X-Twilio-Signature": signature}

    async def post(self, path: str, form: dict[str, str], *, sign: bool = True,
                   token: str = TOKEN) -> httpx.Response:
        headers = self.signed(path, form, token) if sign else {}
        return await self.http.post(self.url + path, data=form, headers=headers)

    def query(self, kind: str, **extra: str) -> str:
        return f"/twilio/{kind}?" + urlencode({"c": "srv", "k": self.contact_id, **extra})


@pytest.fixture
async def rig(redis_url: str) -> AsyncIterator[Rig]:
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "srv")
    options = CampaignOptions(name="srv", from_number=CALLER_ID, account_sid=SIM_ACCOUNT_SID,
                              max_attempts=1)
    await store.save_meta(options.model_dump(mode="json"))
    contact = Contact(contact_id="c0ffee", e164=NUMBER, phone_hash="ab" * 32, external_id="E1",
                      name="Jo", timezones=("America/New_York",), webhook_url=None,
                      context={}, row=1)
    await store.import_contacts([contact])
    assert await store.claim(limit=1, max_concurrent=5, lease_ms=60_000, worker="t") == ["c0ffee"]
    await store.record_dial("c0ffee", SID, lease_ms=60_000)
    server = CallbackServer(redis=client, auth_token=TOKEN, public_url="http://placeholder",
                            provider=None)
    async with running_server(server.app) as url, httpx.AsyncClient() as http:
        server.public_url = url  # signatures are checked against the public URL
        yield Rig(url=url, http=http, store=store, contact_id="c0ffee")
    await client.aclose()


def _status(status: str, seq: int) -> dict[str, str]:
    return {"CallSid": SID, "AccountSid": SIM_ACCOUNT_SID, "CallStatus": status,
            "SequenceNumber": str(seq), "From": CALLER_ID, "To": NUMBER}


async def test_unsigned_and_forged_callbacks_get_403(rig: Rig) -> None:
    path = rig.query("status")
    assert (await rig.post(path, _status("busy", 3), sign=False)).status_code == 403
    assert (await rig.post(path, _status("busy", 3), token="forged")).status_code == 403
    # a valid signature over different parameters is a forgery too
    headers = rig.signed(path, _status("ringing", 1))
    response = await rig.http.post(rig.url + path, data=_status("busy", 3), headers=headers)
    assert response.status_code == 403
    assert await rig.store.counts() == {"dialling": 1}
    metrics = (await rig.http.get(rig.url + "/metrics")).text
    assert "voicedial_signature_rejections_total 3.0" in metrics


async def test_repeated_and_reordered_status_callbacks_change_nothing(rig: Rig) -> None:
    path = rig.query("status")
    assert (await rig.post(path, _status("in-progress", 2))).status_code == 204
    assert await rig.store.counts() == {"in_call": 1}
    # an older event arriving late does not move the call back
    assert (await rig.post(path, _status("ringing", 1))).status_code == 204
    assert (await rig.store.call(SID))["status"] == "in-progress"
    for _ in range(3):
        assert (await rig.post(path, _status("busy", 3))).status_code == 204
    assert await rig.store.counts() == {"busy": 1}
    stats = await rig.store.redis.hgetall(rig.store.keys.stats)
    assert stats[b"finished_calls"] == b"1"
    assert await rig.store.active_count() == 0


async def test_voice_and_gather_turns_are_twiml_and_replayed_on_repeat(rig: Rig) -> None:
    form = {"CallSid": SID, "AccountSid": SIM_ACCOUNT_SID, "CallStatus": "in-progress"}
    first = await rig.post(rig.query("voice"), form)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    assert "<Gather" in first.text and 'input="speech"' in first.text
    assert "automated" in first.text.lower() and "record" in first.text.lower()
    again = await rig.post(rig.query("voice"), form)
    assert again.text == first.text
    answer = {**form, "SpeechResult": "Yes, that's fine.", "Confidence": "0.93"}
    turn = await rig.post(rig.query("gather", t="1"), answer)
    assert turn.status_code == 200 and "<Say>" in turn.text
    repeat = await rig.post(rig.query("gather", t="1"), answer)
    assert repeat.text == turn.text
    call = await rig.store.call(SID)
    assert call["turn"] == "2"


async def test_malformed_and_oversized_requests(rig: Rig) -> None:
    no_sid = {"AccountSid": SIM_ACCOUNT_SID, "CallStatus": "busy"}
    assert (await rig.post(rig.query("status"), no_sid)).status_code == 400
    unknown = f"/twilio/status?{urlencode({'c': 'nope', 'k': 'x'})}"
    assert (await rig.post(unknown, _status("busy", 1))).status_code == 400
    big = {"CallSid": SID, "Junk": "x" * 70_000}
    assert (await rig.post(rig.query("status"), big)).status_code == 413
    assert await rig.store.counts() == {"dialling": 1}


async def test_health_and_campaign_metrics(rig: Rig) -> None:
    response = await rig.http.get(rig.url + "/health")
    assert response.status_code == 200 and response.json() == {"ok": True}
    metrics = (await rig.http.get(rig.url + "/metrics")).text
    assert 'voicedial_active_calls{campaign="srv"} 1.0' in metrics
    assert 'voicedial_contacts_remaining{campaign="srv"} 1.0' in metrics
    await rig.post(rig.query("status"), _status("busy", 3))
    metrics = (await rig.http.get(rig.url + "/metrics")).text
    assert 'voicedial_active_calls{campaign="srv"} 0.0' in metrics
    assert 'voicedial_calls_finished_total{campaign="srv",disposition="busy"} 1.0' in metrics
