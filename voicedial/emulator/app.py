"""The emulator's REST face: Twilio's 2010-04-01 Calls API (create, fetch, update) with HTTP
basic auth and Twilio's JSON error bodies, plus `/_emulator/*` for out-of-process tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hmac
import io
import logging
import math
import secrets
import struct
import time
import wave
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import phonenumbers
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from voicedial.emulator.brain import CallerBrain
from voicedial.emulator.calls import API_VERSION, CallRunner, SimCall, WebhookClient
from voicedial.emulator.faults import Faults
from voicedial.emulator.persona_model import Persona
from voicedial.emulator.personas import generate_persona, load_personas
from voicedial.http import bind_socket, serve

__all__ = ["Emulator", "run_emulator"]

log = logging.getLogger(__name__)

_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
_INJECTED = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20500, "Service Unavailable"),
}


async def read_form(request: Request) -> FormData:
    """The request's form. The SDK always sends application/x-www-form-urlencoded, which
    `parse_qsl` reads several times faster than Starlette's general multipart parser (a third
    of a create's time); anything else goes to Starlette's."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        pairs: list[tuple[str, str | UploadFile]] = list(
            parse_qsl((await request.body()).decode(), keep_blank_values=True)
        )
        return FormData(pairs)
    return await request.form()


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """An error body shaped like Twilio's, which the SDK turns into TwilioRestException."""
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


@functools.lru_cache(maxsize=65_536)
def e164(number: str) -> str | None:
    """`number` in E.164 if it is a valid phone number, else None (cached: a campaign's numbers
    are asked about on every create, fetch and list)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _number(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


class Emulator:
    """A Twilio look-alike: serve `app` over HTTP and point the twilio SDK's base URL at it.

    Each created call runs as an asyncio task on the serving loop, played by the persona
    for its `To` number (generated from `seed` when the number has none).
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        personas: Mapping[str, Persona] | None = None,
        seed: int = 0,
        speed: float = 1.0,
        faults: Faults | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.faults = faults or Faults(seed=seed)
        self.refused_creates: dict[str, int] = {}  # faults injected on creates, by kind
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.personas: dict[str, Persona] = dict(personas or {})
        self.seed = seed
        self.speed = speed
        self.http = WebhookClient()
        self.calls: dict[str, SimCall] = {}
        self.create_times: list[float] = []
        self.inject_errors: dict[str, list[int]] = {}
        # Faults on request, per `To` number: creates answered with these HTTP errors (Twilio's
        # error bodies), and creates accepted (the call goes ahead) but answered only after
        # these many seconds, as a create that times out after Twilio accepted it.
        self.slow_creates: dict[str, list[float]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._base_url = ""
        prefix = "/2010-04-01/Accounts/{account}"
        self.app = Starlette(
            routes=[
                Route(prefix + ".json", self._account, methods=["GET"]),
                Route(prefix + "/Calls.json", self._create, methods=["POST"]),
                Route(prefix + "/Calls.json", self._list, methods=["GET"]),
                Route(prefix + "/Calls/{call_sid}.json", self._fetch, methods=["GET"]),
                Route(prefix + "/Calls/{call_sid}.json", self._update, methods=["POST"]),
                Route(prefix + "/Recordings/{recording_sid}.wav", self._recording, methods=["GET"]),
                Route("/_emulator/calls", self._list_calls, methods=["GET"]),
                Route("/_emulator/health", self._health, methods=["GET"]),
            ]
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def wait_idle(self, timeout: float) -> None:
        """Wait until no call is live; raises TimeoutError after `timeout` seconds."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def aclose(self) -> None:
        """Cancel live calls and close the HTTP client if the emulator made it."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.http.aclose()

    def persona_for(self, phone: str) -> Persona:
        """The persona answering `phone` (generated once, then kept)."""
        if phone not in self.personas:
            self.personas[phone] = generate_persona(phone, self.seed)
        return self.personas[phone]

    def _start(self, call: SimCall) -> None:
        persona = self.persona_for(call.to)
        call.persona_name, call.persona_style = persona.name, persona.style
        runner = CallRunner(
            call,
            persona=persona,
            brain=CallerBrain(persona, seed=self.seed),
            http=self.http,
            auth_token=self.auth_token,
            speed=self.speed,
            recording_url=self._recording_url,
            faults=self.faults,
        )
        self._idle.clear()
        task = asyncio.create_task(runner.run(), name=f"emulated-call-{call.sid}")
        self._tasks[call.sid] = task
        task.add_done_callback(lambda _: self._call_done(call.sid))

    def _call_done(self, sid: str) -> None:
        self._tasks.pop(sid, None)
        if not self._tasks:
            self._idle.set()

    def _recording_url(self, call: SimCall) -> str:
        return (
            f"{self._base_url}/{API_VERSION}/Accounts/{call.account_sid}/Recordings/"
            f"RE{call.sid[2:]}.wav"
        )

    # --- REST --------------------------------------------------------------------------

    def _auth_error(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
        ):
            return twilio_error(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return None

    def _call_or_404(self, request: Request) -> SimCall | JSONResponse:
        call = self.calls.get(request.path_params["call_sid"])
        if call is None:
            return twilio_error(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )
        return call

    async def _account(self, request: Request) -> Response:
        """The account resource (what `voicedial doctor` fetches to check credentials)."""
        if (denied := self._auth_error(request)) is not None:
            return denied
        return JSONResponse(
            {
                "sid": self.account_sid,
                "friendly_name": "voicedial emulator",
                "status": "active",
                "type": "Full",
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json",
            }
        )

    async def _list(self, request: Request) -> Response:
        """Calls, newest first, filtered by To and StartTime>= (a date or a date-time)."""
        if (denied := self._auth_error(request)) is not None:
            return denied
        to = request.query_params.get("To")
        since_raw = request.query_params.get("StartTime>") or ""
        since = 0.0
        if since_raw:
            try:
                parsed = datetime.fromisoformat(since_raw.replace("Z", "+00:00"))
            except ValueError:
                return twilio_error(400, 20001, f"Invalid StartTime> {since_raw!r}")
            since = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        calls = [
            c.resource()
            for c in reversed(self.calls.values())
            if (to is None or c.to == to) and c.created_at >= since
        ]
        uri = request.url.path
        return JSONResponse(
            {
                "calls": calls[:1000],
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": 1000,
                "start": 0,
                "end": max(0, len(calls) - 1),
                "uri": uri,
            }
        )

    async def _create(self, request: Request) -> Response:
        arrived = time.time()  # Twilio's clock reads as a request arrives, before its body
        if (denied := self._auth_error(request)) is not None:
            return denied
        form = await read_form(request)
        to = str(form.get("To") or "").strip()
        if statuses := self.inject_errors.get(to):
            status = statuses.pop(0)
            code, message = _INJECTED.get(status, (20500, "Internal Server Error"))
            return twilio_error(status, code, message)
        for status, kind in ((429, "create_429"), (500, "create_500")):
            if self.faults.hit(kind):
                name = f"create-{status}"
                self.refused_creates[name] = self.refused_creates.get(name, 0) + 1
                code, message = _INJECTED.get(status, (20500, "Internal Server Error"))
                return twilio_error(status, code, message)
        if (invalid := self._validate(form, to)) is not None:
            return invalid
        self._base_url = str(request.base_url).rstrip("/")
        call = self._new_call(form, e164(to) or to)
        self.calls[call.sid] = call
        self.create_times.append(arrived)
        self._start(call)
        if delays := self.slow_creates.get(to):
            await asyncio.sleep(delays.pop(0))
        elif self.faults.hit("slow_create"):
            await asyncio.sleep(self.faults.slow_create_s)
        return JSONResponse(call.resource(), status_code=201)

    def _validate(self, form: FormData, to: str) -> JSONResponse | None:
        if e164(to) is None:
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
            return twilio_error(400, 21205, "Url parameter is required.")
        return None

    def _new_call(self, form: FormData, to: str) -> SimCall:
        events = {
            e.lower() for value in form.getlist("StatusCallbackEvent") for e in str(value).split()
        } & _EVENTS
        return SimCall(
            sid="CA" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=to,
            from_=str(form["From"]),
            url=str(form.get("Url") or "") or None,
            method=str(form.get("Method") or "POST").upper(),
            twiml=str(form.get("Twiml") or "") or None,
            status_callback=str(form.get("StatusCallback") or "") or None,
            status_callback_method=str(form.get("StatusCallbackMethod") or "POST").upper(),
            status_callback_events=frozenset(events | {"completed"}),
            machine_detection=str(form.get("MachineDetection") or "") or None,
            async_amd=_truthy(str(form.get("AsyncAmd") or "")),
            async_amd_status_callback=str(form.get("AsyncAmdStatusCallback") or "") or None,
            async_amd_status_callback_method=str(
                form.get("AsyncAmdStatusCallbackMethod") or "POST"
            ).upper(),
            timeout=min(600.0, max(1.0, _number(str(form.get("Timeout") or ""), 60.0))),
            time_limit=max(1.0, _number(str(form.get("TimeLimit") or ""), 14_400.0)),
            record_audio=_truthy(str(form.get("Record") or "")),
        )

    async def _fetch(self, request: Request) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        call = self._call_or_404(request)
        return call if isinstance(call, JSONResponse) else JSONResponse(call.resource())

    async def _update(self, request: Request) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        call = self._call_or_404(request)
        if isinstance(call, JSONResponse):
            return call
        form = await read_form(request)
        status = str(form.get("Status") or "").lower()
        url = str(form.get("Url") or "")
        method = str(form.get("Method") or "POST").upper()
        if status in ("completed", "canceled"):
            call.record("update", status=status)
            if call.status in ("queued", "ringing"):
                call.interrupt("cancel")
            elif call.status == "in-progress" and status == "completed":
                call.interrupt("hangup")
            if call.pending is not None:
                # Twilio answers a hang-up with the call already ended; the runner gets
                # there as soon as its interrupted phase unwinds.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call.finished.wait(), 2.0)
        elif url:
            if not call.live:
                return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
            if call.status == "in-progress":
                call.interrupt("redirect", url, method)
            else:
                call.url, call.method = url, method
            call.record("update", url=url)
        elif status:
            return twilio_error(400, 21218, f"Invalid value for Status: {status}")
        return JSONResponse(call.resource())

    async def _recording(self, request: Request) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        sid = request.path_params["recording_sid"]
        call = self.calls.get("CA" + sid[2:])
        if call is None or not call.record_audio or call.started_at is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        return Response(_tone_wav(min(2.0, float(call.duration or 1))), media_type="audio/x-wav")

    async def _list_calls(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "sid": c.sid,
                    "to": c.to,
                    "status": c.status,
                    "created_at": c.created_at,
                    "answered_by": c.answered_by,
                    "persona": c.persona_name,
                    "style": c.persona_style,
                    "duration": c.duration,
                    "transcript": [list(t) for t in c.transcript],
                    "events": c.events,
                }
                for c in self.calls.values()
            ]
        )

    async def _health(self, request: Request) -> Response:
        faults = dict(self.refused_creates)
        for call in self.calls.values():
            for event in call.events:
                if event["type"].startswith("callback-"):
                    faults[event["type"]] = faults.get(event["type"], 0) + 1
        return JSONResponse(
            {"ok": True, "calls": len(self.calls), "live": len(self._tasks), "faults": faults}
        )


def _tone_wav(seconds: float, rate: int = 8000) -> bytes:
    """A quiet 440 Hz tone: a small but real WAV file for recording downloads."""
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


async def run_emulator(
    *,
    host: str,
    port: int,
    account_sid: str,
    auth_token: str,
    personas_path: str | None,
    seed: int,
    speed: float,
    faults: Faults | None = None,
) -> None:
    """Serve the emulator standalone on `host:port` until cancelled (`voicedial sim`)."""
    personas: dict[str, Persona] = load_personas(Path(personas_path)) if personas_path else {}
    emulator = Emulator(
        account_sid=account_sid,
        auth_token=auth_token,
        personas=personas,
        seed=seed,
        speed=speed,
        faults=faults,
    )
    sock = bind_socket(host, port)
    log.info(
        "Twilio emulator on http://%s:%s (%d personas, speed %s)",
        host,
        sock.getsockname()[1],
        len(personas),
        speed,
    )
    try:
        await serve(emulator.app, sock)
    finally:
        sock.close()
        await emulator.aclose()
