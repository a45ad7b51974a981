"""The callback server: answers Twilio's voice webhooks with TwiML and takes status and AMD
callbacks, for any campaign, from any process. No call state lives in memory: each request
reads and writes Redis, so a process started after a call was placed can serve it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from twilio.twiml.voice_response import VoiceResponse

from voicedial.callbacks.outcomes import settle_call
from voicedial.callbacks.signature import Form, SignatureCheck, parse_urlencoded
from voicedial.callbacks.twiml import render_hold, render_twiml
from voicedial.dialing.provider import CallProvider
from voicedial.dialing.urls import gather_url
from voicedial.errors import ConfigError, RedisUnavailable, TelephonyError
from voicedial.interview import (
    Interviewer,
    InterviewState,
    make_interviewer,
    start_interview,
)
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.state.autopipeline import AutoPipelinedRedis
from voicedial.state.cluster import is_cluster
from voicedial.state.connect import RedisClient, ping
from voicedial.state.node_batching import NodeBatchedCluster
from voicedial.state.snapshot import campaign_names, snapshot
from voicedial.state.states import FINAL_CALL_STATUSES, ContactState
from voicedial.state.store import CampaignStore

__all__ = ["HEALTH_SERVICE", "MAX_BODY_BYTES", "CallbackServer"]

log = logging.getLogger("voicedial.callbacks.server")
MAX_BODY_BYTES = 64 * 1024
_OPTIONS_TTL_S = 2.0
# Twilio waits 15 s for a voice or Gather webhook; Redis work still waiting after this long
# (an outage being ridden out) gets a holding turn instead, in time.
HOLD_AFTER_S = 10.0
_HEALTH_TIMEOUT_S = 2.0
#: What /health says it is: another run finding its port taken asks whether by voicedial.
HEALTH_SERVICE = "voicedial"


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class _Cached:
    store: CampaignStore
    options: CampaignOptions
    at: float


class CallbackServer:
    """The ASGI app and what it needs: Redis, the account's token, the public URL."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        auth_token: str,
        public_url: str,
        provider: CallProvider | None,
        metrics: Metrics | None = None,
        openai_api_key: str | None = None,
        openai_base_url: str | None = None,
        openai_model: str = "gpt-4o-mini",
        hold_after_s: float = HOLD_AFTER_S,
    ) -> None:
        self.redis = redis
        self.hold_after_s = hold_after_s
        # The stores' commands (one or two per callback) from concurrent requests go out
        # together, a batch per round trip (per node, on a cluster), instead of one each.
        self._store_redis: RedisClient = (
            NodeBatchedCluster(redis) if is_cluster(redis) else AutoPipelinedRedis(redis)  # type: ignore[arg-type]
        )
        self._openai = (openai_api_key, openai_base_url, openai_model)
        self._interviewers: dict[str, Interviewer] = {}
        self._auth_token = auth_token
        self.public_url = public_url
        self.provider = provider
        self.metrics = metrics or Metrics()
        # Bound once: `labels()` takes a lock and a dict lookup on every call.
        self._counted = {
            kind: self.metrics.callbacks.labels(kind)
            for kind in ("voice", "gather", "status", "amd")
        }
        self._options: dict[str, _Cached] = {}
        self.app = Starlette(
            routes=[
                # Routes are matched in order: status callbacks, the most frequent, first.
                Route("/twilio/status", self.status, methods=["POST"]),
                Route("/twilio/voice", self.voice, methods=["POST"]),
                Route("/twilio/gather", self.gather, methods=["POST"]),
                Route("/twilio/amd", self.amd, methods=["POST"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            ],
            exception_handlers={
                _BadRequest: self._bad_request,
                RedisUnavailable: self._redis_unavailable,
            },
        )

    # -- plumbing ------------------------------------------------------------------------
    @property
    def public_url(self) -> str:
        """The base URL Twilio calls; signatures are checked against it."""
        return self._public_url

    @public_url.setter
    def public_url(self, value: str) -> None:
        self._public_url = value.rstrip("/")
        self._signatures = SignatureCheck(self._auth_token, self._public_url)

    def _interviewer(self, agent: str) -> Interviewer:
        """The campaign's interviewer (one per agent kind, reused across calls)."""
        if agent not in self._interviewers:
            key, base, model = self._openai
            try:
                self._interviewers[agent] = make_interviewer(
                    agent, api_key=key, base_url=base, model=model
                )
            except ConfigError as exc:
                log.warning("agent %s unavailable (%s); using the scripted one", agent, exc)
                self._interviewers[agent] = make_interviewer(
                    "scripted", api_key=None, base_url=None, model=model
                )
        return self._interviewers[agent]

    async def aclose(self) -> None:
        """Close the interviewers' clients; give the stores' Redis connection back."""
        for interviewer in self._interviewers.values():
            await interviewer.aclose()
        self._interviewers.clear()
        await self._store_redis.aclose()

    async def _bad_request(self, request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, _BadRequest) else 400
        return PlainTextResponse(str(exc), status_code=status)

    async def _redis_unavailable(self, request: Request, exc: Exception) -> Response:
        # Past the grace: Twilio logs the 503 (a status callback is then settled by the
        # reconciler from Twilio's record of the call).
        return PlainTextResponse("redis unavailable", status_code=503)

    async def _verified_form(self, request: Request) -> tuple[Form, Form]:
        """The query and the POSTed form, after the size and X-Twilio-Signature are checked."""
        length = signature = b""
        for name, value in request.scope["headers"]:  # the two we need, in one pass
            if name == b"content-length":
                length = value
            elif name == b"x-twilio-signature":
                signature = value
        if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise _BadRequest(413, "body too large")
        body = b""
        while True:  # ASGI messages straight, without `request.stream()`'s async generator
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                raise _BadRequest(413, "body too large")
            if not message.get("more_body", False):
                break
        # The scope's path and raw query, not `request.url`/`query_params`, which would parse
        # the URL twice more per request; Twilio signs exactly what it was given.
        path: str = request.scope["path"]
        raw_query: bytes = request.scope["query_string"]
        try:
            form = parse_urlencoded(body)
            query = parse_urlencoded(raw_query)
        except UnicodeDecodeError:
            raise _BadRequest(400, "body is not a form") from None
        signed_part = f"{path}?{raw_query.decode()}" if raw_query else path
        if not self._signatures.verify(signed_part, form, signature.decode("latin-1")):
            self.metrics.signature_rejections.inc()
            log.warning("callback refused: bad signature on %s", path)
            raise _BadRequest(403, "invalid signature")
        return query, form

    @staticmethod
    def _ids(query: Form, form: Form) -> tuple[str, str, str]:
        campaign = query.get("c", "")
        contact_id = query.get("k", "")
        call_sid = form.get("CallSid", "")
        if not campaign or not contact_id or not call_sid.startswith("CA"):
            raise _BadRequest(400, "missing campaign, contact or CallSid")
        return campaign, contact_id, call_sid

    async def _campaign(self, name: str) -> tuple[CampaignStore, CampaignOptions]:
        cached = self._options.get(name)
        if cached is None or time.monotonic() - cached.at > _OPTIONS_TTL_S:
            # One store per campaign: building one registers (hashes) every Lua script.
            store = cached.store if cached else CampaignStore(self._store_redis, name)
            raw = await store.options()
            if raw is None:
                raise _BadRequest(400, "unknown campaign")
            cached = _Cached(store, CampaignOptions.model_validate(raw), time.monotonic())
            self._options[name] = cached
        return cached.store, cached.options

    @staticmethod
    def _twiml(xml: str) -> Response:
        return Response(xml, media_type="application/xml")

    # -- voice ---------------------------------------------------------------------------
    async def voice(self, request: Request) -> Response:
        """The call was answered: open the interview (disclosure and consent)."""
        query, form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(query, form)
        self._counted["voice"].inc()
        try:
            async with asyncio.timeout(self.hold_after_s):
                return await self._voice(query, form, campaign, contact_id, call_sid)
        except (TimeoutError, RedisUnavailable):
            return self._hold("/twilio/voice", query, {"ab": form.get("AnsweredBy", "")})

    def _hold(self, path: str, query: Form, carried: dict[str, str]) -> Response:
        """Redis is not answering: keep the caller on the line and ask again shortly."""
        self.metrics.callback_holds.inc()
        held = int(h) + 1 if (h := query.get("h", "")).isdigit() else 1
        kept = {k: v for k, v in query.items() if k not in ("h", *carried)}
        params = {**kept, **{k: v for k, v in carried.items() if v}, "h": str(held)}
        return self._twiml(render_hold(f"{path}?{urlencode(params)}"))

    async def _voice(
        self, query: Form, form: Form, campaign: str, contact_id: str, call_sid: str
    ) -> Response:
        store, options = await self._campaign(campaign)
        call = await store.call(call_sid, contact_id)
        if call.get("twiml"):  # a repeated request: say the same again
            return self._twiml(call["twiml"])
        contact = await store.contact(contact_id)
        if not contact:
            raise _BadRequest(400, "unknown contact")
        if not owns_call(call, contact, contact_id):
            log.warning("voice webhook for a call this campaign did not place: hung up")
            return self._twiml(str(VoiceResponse().hangup()))
        state, reply = start_interview(
            caller_name=contact.get("name") or None,
            org_name=options.org_name,
            now_year=datetime.now(UTC).year,
        )
        xml = render_twiml(reply, gather_url(campaign, contact_id, 1))
        fields: dict[str, Any] = {
            "contact_id": contact_id,
            "interview": state.model_dump_json(),
            "twiml": xml,
            "turn": 1,
            "voice_at": int(time.time() * 1000),
        }
        if answered_by := form.get("AnsweredBy") or query.get("ab"):
            fields["answered_by"] = answered_by
        await store.update_call(call_sid, contact_id, **fields)
        return self._twiml(xml)

    async def gather(self, request: Request) -> Response:
        """One caller answer (or silence): the next question, or goodbye."""
        started = time.perf_counter()
        query, form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(query, form)
        self._counted["gather"].inc()
        turn = query.get("t", "")
        if not turn.isdigit():
            raise _BadRequest(400, "missing turn")
        # After a holding turn, what the caller said comes back in the query.
        speech = form.get("SpeechResult") or query.get("sr") or None
        confidence = _float(form.get("Confidence") or query.get("sc"))
        try:
            async with asyncio.timeout(self.hold_after_s):
                xml = await self._gather(campaign, contact_id, call_sid, turn, speech, confidence)
        except (TimeoutError, RedisUnavailable):
            carried = {"sr": speech or "", "sc": "" if confidence is None else str(confidence)}
            return self._hold("/twilio/gather", query, carried)
        self.metrics.turn_seconds.observe(time.perf_counter() - started)
        return self._twiml(xml)

    async def _gather(
        self,
        campaign: str,
        contact_id: str,
        call_sid: str,
        turn: str,
        speech: str | None,
        confidence: float | None,
    ) -> str:
        store, options = await self._campaign(campaign)
        call = await store.call(call_sid, contact_id)
        if not call.get("interview"):
            raise _BadRequest(400, "no interview for this call")
        if call.get("turn") != turn:  # a repeated action: replay what was said
            return call.get("twiml", str(VoiceResponse()))
        state = InterviewState.model_validate_json(call["interview"])
        elapsed = (time.time() * 1000 - float(call.get("voice_at") or 0)) / 1000
        reply = await self._interviewer(options.agent).reply(
            state, speech, confidence, elapsed_s=elapsed
        )
        next_turn = int(turn) + 1
        xml = render_twiml(reply, gather_url(campaign, contact_id, next_turn))
        saved = await store.save_turn(
            call_sid,
            contact_id,
            turn=turn,
            interview=state.model_dump_json(),
            twiml=xml,
            next_turn=next_turn,
        )
        if not saved:
            xml = (await store.call(call_sid, contact_id)).get("twiml", xml)
        return xml

    # -- status and AMD ------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        """A call progress event; a final one settles the call (once)."""
        query, form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(query, form)
        self._counted["status"].inc()
        store, options = await self._campaign(campaign)
        status = form.get("CallStatus", "")
        if status in FINAL_CALL_STATUSES:
            duration = form.get("CallDuration") or form.get("Duration")
            disposition = await settle_call(
                store,
                options,
                call_sid=call_sid,
                contact_id=contact_id,
                call_status=status,
                duration_s=int(duration) if duration and duration.isdigit() else None,
                answered_by=form.get("AnsweredBy") or None,
                recording_url=form.get("RecordingUrl") or None,
            )
            if disposition is not None:
                self.metrics.calls_finished.labels(campaign, disposition).inc()
                if duration and duration.isdigit() and int(duration) > 0:
                    self.metrics.call_duration.observe(int(duration))
        elif status:
            seq = form.get("SequenceNumber", "")
            await store.progress(
                call_sid,
                contact_id,
                status=status,
                seq=int(seq) if seq.isdigit() else 0,
                lease_ms=options.lease_ms,
            )
        else:
            raise _BadRequest(400, "missing CallStatus")
        return Response(status_code=204)

    async def amd(self, request: Request) -> Response:
        """Async answering-machine detection: a machine is hung up on (voicemail, retried)."""
        query, form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(query, form)
        self._counted["amd"].inc()
        store, _ = await self._campaign(campaign)
        call, contact = await store.call(call_sid, contact_id), await store.contact(contact_id)
        if not owns_call(call, contact, contact_id):
            return Response(status_code=204)  # not this campaign's call: change nothing
        answered_by = form.get("AnsweredBy", "unknown")
        await store.update_call(call_sid, contact_id, answered_by=answered_by)
        if (answered_by.startswith("machine") or answered_by == "fax") and self.provider:
            try:
                await self.provider.hangup(call_sid)
            except TelephonyError as exc:
                log.warning("could not hang up on a machine: %s", exc)
        return Response(status_code=204)

    # -- health --------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        """Liveness plus a Redis round trip (unhealthy while an outage is ridden out)."""
        try:
            async with asyncio.timeout(_HEALTH_TIMEOUT_S):
                await ping(self.redis)
        except Exception as exc:  # any failure means unhealthy; report it, never raise
            return JSONResponse(
                {"ok": False, "service": HEALTH_SERVICE, "redis": str(exc)}, status_code=503
            )
        return JSONResponse({"ok": True, "service": HEALTH_SERVICE})

    async def metrics_endpoint(self, request: Request) -> Response:
        """Prometheus text exposition; campaign gauges are refreshed from Redis first."""
        for name in await campaign_names(self.redis):
            status = await snapshot(self.redis, name)
            self.metrics.active_calls.labels(name).set(status["concurrency"]["active"])
            self.metrics.outbox_pending.labels(name).set(status["outbox"]["pending"])
            self.metrics.pace.labels(name).set(status["pace"]["cps_10s"])
            self.metrics.remaining.labels(name).set(status["remaining"])
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def owns_call(call: dict[str, str], contact: dict[str, str], contact_id: str) -> bool:
    """Whether a callback's CallSid is this campaign's call for this contact: its record names
    the contact, or (a callback that beat the dialler's record of the call) the contact is being
    dialled. The Lua scripts apply the same rule (settle_read.lua)."""
    owner = call.get("contact_id")
    if owner:
        return owner == contact_id
    return contact.get("state") in (ContactState.DIALLING, ContactState.IN_CALL)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
