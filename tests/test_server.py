"""The callback server over real HTTP with a real Redis: signatures, idempotent callbacks,
malformed and oversized requests, TwiML turns, health and metrics; and its parts: form parsing,
signature checks, the auto-pipelined Redis client, the fields settling reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from tests.support import CALLER_ID, make_contact
from voicedial.callbacks.outcomes import (
    CALL_FIELDS,
    CONTACT_FIELDS,
    build_profile,
    build_transcript,
)
from voicedial.callbacks.server import CallbackServer
from voicedial.callbacks.signature import SignatureCheck, parse_urlencoded
from voicedial.contacts.parse import Contact
from voicedial.http import running_server
from voicedial.interview import InterviewState
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID
from voicedial.state import records
from voicedial.state.autopipeline import AutoPipelinedRedis
from voicedial.state.store import CampaignStore

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

    async def post(
        self, path: str, form: dict[str, str], *, sign: bool = True, token: str = TOKEN
    ) -> httpx.Response:
        headers = self.signed(path, form, token) if sign else {}
        return await self.http.post(self.url + path, data=form, headers=headers)

    def query(self, kind: str, **extra: str) -> str:
        return f"/twilio/{kind}?" + urlencode({"c": "srv", "k": self.contact_id, **extra})


@pytest.fixture
async def rig(redis_url: str) -> AsyncIterator[Rig]:
    client = aioredis.from_url(redis_url)
    store = CampaignStore(client, "srv")
    options = CampaignOptions(
        name="srv", from_number=CALLER_ID, account_sid=SIM_ACCOUNT_SID, max_attempts=1
    )
    await store.save_meta(options.model_dump(mode="json"))
    contact = Contact(
        contact_id="c0ffee",
        e164=NUMBER,
        phone_hash="ab" * 32,
        external_id="E1",
        name="Jo",
        timezones=("America/New_York",),
        webhook_url=None,
        context={},
        row=1,
    )
    await store.import_contacts([contact])
    assert await store.claim(limit=1, max_concurrent=5, lease_ms=60_000, worker="t") == ["c0ffee"]
    await store.record_dial("c0ffee", SID, lease_ms=60_000)
    server = CallbackServer(
        redis=client, auth_token=TOKEN, public_url="http://placeholder", provider=None
    )
    async with running_server(server.app) as url, httpx.AsyncClient() as http:
        server.public_url = url  # signatures are checked against the public URL
        yield Rig(url=url, http=http, store=store, contact_id="c0ffee")
    await client.aclose()


def _status(status: str, seq: int) -> dict[str, str]:
    return {
        "CallSid": SID,
        "AccountSid": SIM_ACCOUNT_SID,
        "CallStatus": status,
        "SequenceNumber": str(seq),
        "From": CALLER_ID,
        "To": NUMBER,
    }


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


async def test_a_callsid_the_campaign_never_placed_changes_nothing(rig: Rig) -> None:
    stranger = "CA" + "f" * 32
    # The contact's own call finishes with an interview; then signed callbacks arrive for a
    # call this campaign never placed, naming the same (now finished) contact.
    assert (await rig.post(rig.query("status"), _status("completed", 4))).status_code == 204
    before = await rig.store.contact(rig.contact_id)
    stats = await rig.store.redis.hgetall(rig.store.keys.stats)
    for kind, form in [
        ("voice", {"CallSid": stranger, "AccountSid": SIM_ACCOUNT_SID}),
        ("amd", {"CallSid": stranger, "AccountSid": SIM_ACCOUNT_SID, "AnsweredBy": "human"}),
        ("status", {**_status("in-progress", 2), "CallSid": stranger}),
        ("status", {**_status("completed", 5), "CallSid": stranger, "CallDuration": "60"}),
    ]:
        response = await rig.post(rig.query(kind), form)
        assert response.status_code in (200, 204)
        if kind == "voice":
            assert "<Hangup" in response.text and "<Gather" not in response.text
    assert await rig.store.contact(rig.contact_id) == before
    assert await rig.store.redis.hgetall(rig.store.keys.stats) == stats  # no event, no call
    assert await rig.store.call(stranger) == {}
    assert await rig.store.redis.xlen(rig.store.keys.outbox) == 1  # the contact's own call


async def test_a_callback_that_beats_the_dialler_is_still_adopted(rig: Rig) -> None:
    # A contact being dialled whose create has not been recorded yet: its first callback is
    # the campaign's call (the dialler records it a moment later).
    await rig.store.import_contacts([make_contact("beef", "+12015550123", row=2)])
    assert await rig.store.claim(limit=1, max_concurrent=5, lease_ms=60_000, worker="t") == ["beef"]
    early = "CA" + "e" * 32
    path = "/twilio/status?" + urlencode({"c": "srv", "k": "beef"})
    assert (await rig.post(path, {**_status("in-progress", 2), "CallSid": early})).status_code
    assert (await rig.store.call(early))["contact_id"] == "beef"
    assert (await rig.store.counts()).get("in_call") == 1


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
    assert response.status_code == 200
    assert response.json() == {"ok": True, "service": "voicedial"}
    metrics = (await rig.http.get(rig.url + "/metrics")).text
    assert 'voicedial_active_calls{campaign="srv"} 1.0' in metrics
    assert 'voicedial_contacts_remaining{campaign="srv"} 1.0' in metrics
    await rig.post(rig.query("status"), _status("busy", 3))
    metrics = (await rig.http.get(rig.url + "/metrics")).text
    assert 'voicedial_active_calls{campaign="srv"} 0.0' in metrics
    assert 'voicedial_calls_finished_total{campaign="srv",disposition="busy"} 1.0' in metrics


# -- the server's parts: form parsing, signatures, auto-pipelined Redis, what settling reads ----


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=1",
        b"a=1&b=2&&c=",
        b"a&b=&=c",
        b"k=%2B1201%205550100",
        b"t=Tue%2C+01+Apr+2025",
        b"x=a+b%2Bc%25d",
        b"%41%42=%e2%82%ac",
        b"bad=%ZZ%2",
        b"cut=%E2%82",
        b"r=1&r=2&r=1",
        "n=\u00e9&m=%C3%A9\u20ac".encode(),
    ],
)
def test_form_parsing_is_parse_qsl(body: bytes) -> None:
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    form = parse_urlencoded(body)
    assert form == dict(pairs)
    for name in form:
        assert form.getall(name) == [v for k, v in pairs if k == name]


def test_repeated_names_are_signed_with_every_value() -> None:
    body = b"CallSid=CA1&Digits=1&Digits=2"
    url = "https://example.test/twilio/status?c=x"
    sdk = RequestValidator(TOKEN)
    expected = sdk.compute_signature(url, ImmutableMultiDict(parse_qsl(body.decode())))
    assert sdk.compute_signature(url, parse_urlencoded(body)) == expected
    check = SignatureCheck(TOKEN, "https://example.test/")
    assert check.verify("/twilio/status?c=x", parse_urlencoded(body), expected)
    assert not check.verify(
        "/twilio/status?c=x", parse_urlencoded(b"CallSid=CA1&Digits=2"), expected
    )


@pytest.mark.parametrize(
    "public_url",
    [
        "https://example.test",
        "https://example.test:443",
        "http://127.0.0.1:8080/",
        "http://example.test",
    ],
)
def test_signature_check_accepts_what_the_sdk_accepts(public_url: str) -> None:
    path = "/twilio/status?c=camp&k=abc"
    form = parse_urlencoded(b"CallSid=CA1&CallStatus=busy&To=%2B12015550100")
    sdk = RequestValidator(TOKEN)
    host = public_url.split("://")[1].split("/")[0].split(":")[0]
    candidates = [
        sdk.compute_signature(base + path, dict(form))
        for base in (
            f"https://{host}",
            f"https://{host}:443",
            f"http://{host}",
            f"http://{host}:80",
            f"http://{host}:8080",
            public_url.rstrip("/"),
        )
    ] + [
        RequestValidator("forged").compute_signature(public_url.rstrip("/") + path, dict(form)),
        sdk.compute_signature(public_url.rstrip("/") + "/twilio/voice?c=camp&k=abc", dict(form)),
        "",
        "not base64",
        "\u00e9",
    ]
    check = SignatureCheck(TOKEN, public_url)
    for signature in candidates:
        assert check.verify(path, form, signature) == (
            bool(signature) and sdk.validate(public_url.rstrip("/") + path, dict(form), signature)
        ), signature


async def test_auto_pipelined_commands_keep_their_own_replies_and_errors(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = aioredis.from_url(redis_url)
    client = AutoPipelinedRedis(plain)
    batches: list[int] = []
    replies = AutoPipelinedRedis._replies

    async def counted(self: AutoPipelinedRedis, batch: list[Any]) -> list[Any]:
        batches.append(len(batch))
        return await replies(self, batch)

    monkeypatch.setattr(AutoPipelinedRedis, "_replies", counted)
    await plain.hset("h", mapping={"a": "1", "b": "2"})
    await plain.rpush("l", "x")
    results = await asyncio.gather(
        client.hgetall("h"),
        client.hget("h", "a"),
        client.hset("l", "f", "v"),
        client.incr("n"),
        client.config_get("maxmemory"),
        return_exceptions=True,
    )
    assert batches == [5]  # one loop turn, one write
    assert results[0] == await plain.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert results[1] == b"1"
    assert isinstance(results[2], ResponseError) and "WRONGTYPE" in str(results[2])
    assert results[3] == 1
    assert results[4] == await plain.config_get("maxmemory")
    assert await client.get("n") == b"1"  # alone: a batch of one
    assert batches[-1] == 1
    await client.aclose()
    assert await plain.ping()  # the shared pool is still open
    await plain.aclose()


async def test_auto_pipelined_commands_outlive_cancelled_callers(redis_url: str) -> None:
    plain = aioredis.from_url(redis_url)
    client = AutoPipelinedRedis(plain)
    first, second = (asyncio.create_task(client.incr("n")) for _ in range(2))
    await asyncio.sleep(0)  # both queued, not sent yet
    first.cancel()
    assert await second == 2  # the cancelled caller's command was sent all the same
    with pytest.raises(asyncio.CancelledError):
        await first
    # A send cancelled before it starts (a loop shutting down) fails its callers, not later ones.
    third = asyncio.create_task(client.incr("n"))
    await asyncio.sleep(0)
    assert client._sender is not None
    client._sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await third
    assert await client.incr("n") == 3
    await plain.aclose()


async def test_auto_pipelined_commands_fail_together_when_redis_is_gone(tmp_path: Path) -> None:
    plain = aioredis.from_url(f"unix://{tmp_path}/none.sock", socket_connect_timeout=1)
    client = AutoPipelinedRedis(plain)
    for _ in range(2):  # a failed batch leaves no state behind: the next one fails as plainly
        results = await asyncio.gather(client.get("a"), client.get("b"), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
    await client.aclose()
    await plain.aclose()


async def test_auto_pipelined_scripts_survive_a_script_flush(redis_url: str) -> None:
    plain = aioredis.from_url(redis_url)
    store = CampaignStore(AutoPipelinedRedis(plain), "ap")
    # A call the dialler recorded (its record names its contact).
    await plain.hset(
        store.keys.call(SID), mapping={"seq": "-1", "status": "queued", "contact_id": "c1"}
    )
    await plain.script_flush()
    done = await asyncio.gather(
        *(store.progress(SID, "c1", status="ringing", seq=seq, lease_ms=1000) for seq in range(3))
    )
    assert done == [True, True, True]  # NOSCRIPT each, loaded, then run in their order
    call = await store.call(SID)
    assert (call["status"], call["seq"]) == ("ringing", "2")
    await plain.aclose()


class _Reads(dict[str, str]):
    """A record that notes which fields are read."""

    def __init__(self, fields: dict[str, str], log: set[str]) -> None:
        super().__init__(fields)
        self.log = log

    def get(self, key: str, default: Any = None) -> Any:
        self.log.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.log.add(key)
        return super().__getitem__(key)


def test_settling_reads_only_the_fields_it_fetches() -> None:
    options = CampaignOptions(name="srv", from_number=CALLER_ID, account_sid=SIM_ACCOUNT_SID)
    interview = InterviewState(org_name="o", now_year=2026, consent_given=True)
    call_reads: set[str] = set()
    contact_reads: set[str] = set()
    contact = _Reads({"contact_id": "c", "phone_hash": "ab", "context": "{}"}, contact_reads)
    call = _Reads({"created_at": "1"}, call_reads)
    build_profile(
        options=options,
        call_sid=SID,
        contact=contact,
        call=call,
        interview=interview,
        disposition="completed",
        ended_ms=2.0,
        duration_s=None,
    )
    build_transcript(options=options, call_sid=SID, contact=contact, interview=interview)
    assert call_reads <= set(CALL_FIELDS)
    static = set(records.unpack_packed("1" + "\0x" * 7))
    assert contact_reads <= set(CONTACT_FIELDS) | static | {"contact_id"}
