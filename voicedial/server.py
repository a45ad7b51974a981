"""The callback server: answers Twilio's voice webhooks with TwiML and takes status and AMD
callbacks, for any campaign, from any process. No call state lives in memory: each request
reads and writes Redis, so a process started after a call was placed can serve it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from .errors import ConfigError, TelephonyError
from .interview import Interviewer, InterviewState, Reply, make_interviewer, start_interview
from .metrics import Metrics
from .options import CampaignOptions
from .outcomes import FINAL_STATUSES, settle_call
from .status import campaign_names, snapshot
from .store import CampaignStore
from .telephony import TwilioProvider

__all__ = ["MAX_BODY_BYTES", "CallbackServer", "gather_url", "voice_urls"]

log = logging.getLogger("voicedial.server")
MAX_BODY_BYTES = 64 * 1024
_OPTIONS_TTL_S = 2.0


def voice_urls(public_url: str, campaign: str, contact_id: str) -> dict[str, str]:
    """The webhook URLs given to Twilio for one call."""
    query = urlencode({"c": campaign, "k": contact_id})
    base = public_url.rstrip("/")
    return {"url": f"{base}/twilio/voice?{query}",
            "status_callback": f"{base}/twilio/status?{query}",
            "amd_callback": f"{base}/twilio/amd?{query}"}


def gather_url(campaign: str, contact_id: str, turn: int) -> str:
    """Relative Gather action for the next turn (Twilio resolves it against the voice URL)."""
    return "/twilio/gather?" + urlencode({"c": campaign, "k": contact_id, "t": turn})


def render_twiml(reply: Reply, action: str) -> str:
    """A turn as TwiML: the question inside a speech Gather, or the last words and a hang-up."""
    response = VoiceResponse()
    if reply.hangup:
        response.say(reply.say)
        response.hangup()
    else:
        gather = Gather(input="speech", action=action, method="POST", timeout=5,
                        speech_timeout="auto", action_on_empty_result=True, language="en-US")
        gather.say(reply.say)
        response.append(gather)
    return str(response)


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

    def __init__(self, *, redis: Redis, auth_token: str, public_url: str,
                 provider: TwilioProvider | None, metrics: Metrics | None = None,
                 openai_api_key: str | None = None, openai_base_url: str | None = None,
                 openai_model: str = "gpt-4o-mini") -> None:
        self.redis = redis
        self._openai = (openai_api_key, openai_base_url, openai_model)
        self._interviewers: dict[str, Interviewer] = {}
        self.public_url = public_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.provider = provider
        self.metrics = metrics or Metrics()
        self._options: dict[str, _Cached] = {}
        self.app = Starlette(routes=[
            Route("/twilio/voice", self.voice, methods=["POST"]),
            Route("/twilio/gather", self.gather, methods=["POST"]),
            Route("/twilio/status", self.status, methods=["POST"]),
            Route("/twilio/amd", self.amd, methods=["POST"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
        ], exception_handlers={_BadRequest: self._bad_request})

    # -- plumbing ------------------------------------------------------------------------
    def _interviewer(self, agent: str) -> Interviewer:
        """The campaign's interviewer (one per agent kind, reused across calls)."""
        if agent not in self._interviewers:
            key, base, model = self._openai
            try:
                self._interviewers[agent] = make_interviewer(agent, api_key=key, base_url=base,
                                                             model=model)
            except ConfigError as exc:
                log.warning("agent %s unavailable (%s); using the scripted one", agent, exc)
                self._interviewers[agent] = make_interviewer("scripted", api_key=None,
                                                             base_url=None, model=model)
        return self._interviewers[agent]

    async def aclose(self) -> None:
        """Close the interviewers' clients."""
        for interviewer in self._interviewers.values():
            await interviewer.aclose()
        self._interviewers.clear()

    async def _bad_request(self, request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, _BadRequest) else 400
        return PlainTextResponse(str(exc), status_code=status)

    async def _verified_form(self, request: Request) -> dict[str, str]:
        """The POSTed form, after its size and X-Twilio-Signature are checked."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise _BadRequest(413, "body too large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _BadRequest(413, "body too large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise _BadRequest(400, "body is not a form") from None
        form = dict(pairs)
        url = self.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not self.validator.validate(url, form, signature):
            self.metrics.signature_rejections.inc()
            log.warning("callback refused: bad signature on %s", request.url.path)
            raise _BadRequest(403, "invalid signature")
        return form

    @staticmethod
    def _ids(request: Request, form: dict[str, str]) -> tuple[str, str, str]:
        campaign = request.query_params.get("c", "")
        contact_id = request.query_params.get("k", "")
        call_sid = form.get("CallSid", "")
        if not campaign or not contact_id or not call_sid.startswith("CA"):
            raise _BadRequest(400, "missing campaign, contact or CallSid")
        return campaign, contact_id, call_sid

    async def _campaign(self, name: str) -> tuple[CampaignStore, CampaignOptions]:
        cached = self._options.get(name)
        if cached is None or time.monotonic() - cached.at > _OPTIONS_TTL_S:
            # One store per campaign: building one registers (hashes) every Lua script.
            store = cached.store if cached else CampaignStore(self.redis, name)
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
        form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(request, form)
        self.metrics.callbacks.labels("voice").inc()
        store, options = await self._campaign(campaign)
        call = await store.call(call_sid)
        if call.get("twiml"):  # a repeated request: say the same again
            return self._twiml(call["twiml"])
        contact = await store.contact(contact_id)
        if not contact:
            raise _BadRequest(400, "unknown contact")
        state, reply = start_interview(caller_name=contact.get("name") or None,
                                       org_name=options.org_name,
                                       now_year=datetime.now(UTC).year)
        xml = render_twiml(reply, gather_url(campaign, contact_id, 1))
        fields: dict[str, Any] = {"contact_id": contact_id, "interview": state.model_dump_json(),
                                  "twiml": xml, "turn": 1, "voice_at": int(time.time() * 1000)}
        if form.get("AnsweredBy"):
            fields["answered_by"] = form["AnsweredBy"]
        await store.update_call(call_sid, **fields)
        return self._twiml(xml)

    async def gather(self, request: Request) -> Response:
        """One caller answer (or silence): the next question, or goodbye."""
        started = time.perf_counter()
        form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(request, form)
        self.metrics.callbacks.labels("gather").inc()
        turn = request.query_params.get("t", "")
        if not turn.isdigit():
            raise _BadRequest(400, "missing turn")
        store, options = await self._campaign(campaign)
        call = await store.call(call_sid)
        if not call.get("interview"):
            raise _BadRequest(400, "no interview for this call")
        if call.get("turn") != turn:  # a repeated action: replay what was said
            return self._twiml(call.get("twiml", str(VoiceResponse())))
        state = InterviewState.model_validate_json(call["interview"])
        speech = form.get("SpeechResult") or None
        confidence = _float(form.get("Confidence"))
        elapsed = (time.time() * 1000 - float(call.get("voice_at") or 0)) / 1000
        reply = await self._interviewer(options.agent).reply(state, speech, confidence,
                                                             elapsed_s=elapsed)
        next_turn = int(turn) + 1
        xml = render_twiml(reply, gather_url(campaign, contact_id, next_turn))
        saved = await store.scripts.turn(keys=[store.keys.call(call_sid)],
                                         args=[turn, state.model_dump_json(), xml, next_turn])
        if not saved:
            xml = (await store.call(call_sid)).get("twiml", xml)
        self.metrics.turn_seconds.observe(time.perf_counter() - started)
        return self._twiml(xml)

    # -- status and AMD ------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        """A call progress event; a final one settles the call (once)."""
        form = await self._verified_form(request)
        campaign, contact_id, call_sid = self._ids(request, form)
        self.metrics.callbacks.labels("status").inc()
        store, options = await self._campaign(campaign)
        status = form.get("CallStatus", "")
        if status in FINAL_STATUSES:
            duration = form.get("CallDuration") or form.get("Duration")
            disposition = await settle_call(
                store, options, call_sid=call_sid, contact_id=contact_id, call_status=status,
                duration_s=int(duration) if duration and duration.isdigit() else None,
                answered_by=form.get("AnsweredBy") or None,
                recording_url=form.get("RecordingUrl") or None)
            if disposition is not None:
                self.metrics.calls_finished.labels(campaign, disposition).inc()
                if duration and duration.isdigit() and int(duration) > 0:
                    self.metrics.call_duration.observe(int(duration))
        elif status:
            seq = form.get("SequenceNumber", "")
            await store.progress(call_sid, contact_id, status=status,
                                 seq=int(seq) if seq.isdigit() else 0,
                                 lease_ms=options.lease_ms)
        else:
            raise _BadRequest(400, "missing CallStatus")
        return Response(status_code=204)

    async def amd(self, request: Request) -> Response:
        """Async answering-machine detection: a machine is hung up on (voicemail, retried)."""
        form = await self._verified_form(request)
        campaign, _, call_sid = self._ids(request, form)
        self.metrics.callbacks.labels("amd").inc()
        store, _ = await self._campaign(campaign)
        answered_by = form.get("AnsweredBy", "unknown")
        await store.update_call(call_sid, answered_by=answered_by)
        if (answered_by.startswith("machine") or answered_by == "fax") and self.provider:
            try:
                await self.provider.hangup(call_sid)
            except TelephonyError as exc:
                log.warning("could not hang up on a machine: %s", exc)
        return Response(status_code=204)

    # -- health --------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        """Liveness plus a Redis round trip."""
        try:
            await self.redis.ping()
        except Exception as exc:  # any failure means unhealthy; report it, never raise
            return JSONResponse({"ok": False, "redis": str(exc)}, status_code=503)
        return JSONResponse({"ok": True})

    async def metrics_endpoint(self, request: Request) -> Response:
        """Prometheus text exposition; campaign gauges are refreshed from Redis first."""
        for name in await campaign_names(self.redis):
            status = await snapshot(self.redis, name)
            self.metrics.active_calls.labels(name).set(status["concurrency"]["active"])
            self.metrics.outbox_pending.labels(name).set(status["outbox"]["pending"])
            self.metrics.pace.labels(name).set(status["pace"]["cps_10s"])
            self.metrics.remaining.labels(name).set(status["remaining"])
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
