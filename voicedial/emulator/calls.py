"""One emulated call: its state (`SimCall`) and the task that drives it like Twilio does
(`CallRunner`): queue, ring, answer or not, signed webhooks, TwiML, AMD, status callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import yarl
from twilio.request_validator import RequestValidator

from voicedial.emulator.brain import CallerBrain
from voicedial.emulator.faults import Faults
from voicedial.emulator.persona_model import Persona
from voicedial.emulator.twiml import TwimlError, TwimlExecutor

__all__ = ["FINAL_STATUSES", "CallRunner", "SimCall", "WebhookClient", "WebhookReply"]

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
RING_SECONDS = 3.0
AMD_SECONDS = 2.5


def rfc2822(ts: float | None) -> str | None:
    """Twilio's date format: ``Tue, 31 Aug 2010 20:36:28 +0000``."""
    return None if ts is None else formatdate(ts, usegmt=False).replace("-0000", "+0000")


@dataclass
class SimCall:
    """The emulator's record of one call, as the REST API and the tests see it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    method: str = "POST"
    twiml: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    machine_detection: str | None = None
    async_amd: bool = False
    async_amd_status_callback: str | None = None
    async_amd_status_callback_method: str = "POST"
    timeout: float = 60.0
    time_limit: float = 14_400.0
    record_audio: bool = False
    persona_name: str = ""
    persona_style: str = ""
    status: str = "queued"
    answered_by: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    duration: int | None = None
    app_error: int | None = None
    transcript: list[tuple[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0
    # What a REST update asked for ("hangup", "cancel" or "redirect", url, method), and the
    # interruptible phase it cancels to make that happen.
    pending: tuple[str, str, str] | None = field(default=None, repr=False)
    phase: asyncio.Task[Any] | None = field(default=None, repr=False)
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def live(self) -> bool:
        """Not yet in a final state."""
        return self.status not in FINAL_STATUSES

    def record(self, kind: str, **details: Any) -> None:
        """Append an event to the call's history (for tests and `/_emulator/calls`)."""
        self.events.append({"t": time.time(), "type": kind, **details})

    def set_status(self, status: str) -> None:
        self.status = status
        self.updated_at = time.time()
        self.record("status", status=status)

    def interrupt(self, kind: str, url: str = "", method: str = "POST") -> None:
        """Ask the runner to hang up, cancel or redirect, at once."""
        self.pending = (kind, url, method)
        if self.phase is not None and not self.phase.done():
            self.phase.cancel()

    def resource(self) -> dict[str, Any]:
        """The Call resource JSON of Twilio's 2010-04-01 API."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at),
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "phone_number_sid": None,
            "status": self.status,
            "start_time": rfc2822(self.started_at),
            "end_time": rfc2822(self.ended_at),
            "duration": None if self.duration is None else str(self.duration),
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "annotation": None,
            "uri": f"{uri}.json",
            "subresource_uris": {
                name: f"{uri}/{name.title().replace('_', '')}.json"
                for name in ("notifications", "recordings", "events")
            },
        }


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What the application answered to a webhook."""

    status_code: int
    text: str

    @property
    def is_success(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status_code < 300


class WebhookClient:
    """The emulator's HTTP client for webhooks, on aiohttp. httpx's connection pool spends
    time proportional to the requests in flight on every request; with a few hundred calls
    live that bookkeeping was most of the emulator's CPU, and the emulator (standing in for
    Twilio) became the slowest part of a 100-calls-a-second campaign."""

    def __init__(self, timeout_s: float = 15.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0  # webhook requests made (what one call costs the callback server)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> WebhookReply:
        """Send one request; raises `aiohttp.ClientError` or `TimeoutError` on failure. The
        URL goes out exactly as signed (no re-quoting) and redirects are not followed."""
        self.sent += 1
        if self._session is None:  # made inside the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.request(
            method, yarl.URL(url, encoded=True), data=data, headers=headers, allow_redirects=False
        ) as response:
            return WebhookReply(response.status, await response.text())

    async def aclose(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with `params` appended to its query string (for GET webhooks)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class CallRunner:
    """Drives one `SimCall` from queued to a final status."""

    def __init__(
        self,
        call: SimCall,
        *,
        persona: Persona,
        brain: CallerBrain,
        http: WebhookClient,
        auth_token: str,
        speed: float,
        recording_url: Callable[[SimCall], str] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.call = call
        self.faults = faults or Faults()
        self.persona = persona
        self.brain = brain
        self.http = http
        self.validator = RequestValidator(auth_token)
        self.speed = speed
        self._recording_url = recording_url
        self._amd_task: asyncio.Task[None] | None = None
        self._late: set[asyncio.Task[None]] = set()

    async def sleep(self, seconds: float) -> None:
        """Sleep emulated `seconds`, compressed by the speed factor."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    # --- the lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """The whole call. Cancelling it (emulator shutdown) ends the call as failed."""
        call = self.call
        try:
            await self._lifecycle()
            if self._late:  # callbacks held back to arrive out of order go out first
                await asyncio.gather(*self._late, return_exceptions=True)
        except asyncio.CancelledError:
            if call.live:
                self._finish("failed" if call.started_at is None else "completed")
            raise
        except Exception:
            log.exception("call %s: emulator error", call.sid)
            if call.live:
                self._finish("failed")
                await self._status_callback("completed")
        finally:
            if self._amd_task is not None:
                self._amd_task.cancel()
            for task in self._late:
                task.cancel()

    async def _lifecycle(self) -> None:
        call = self.call
        if not await self._phase(self.sleep(0.05)):
            return await self._end_unanswered("canceled")
        await self._status_callback("initiated")
        if call.pending is not None:
            return await self._end_unanswered("canceled")
        call.set_status("ringing")
        await self._status_callback("ringing")
        answer = self.persona.answer
        ring = {"busy": 1.0, "failed": 0.2, "no-answer": call.timeout}.get(
            answer, min(RING_SECONDS, call.timeout)
        )
        if not await self._phase(self.sleep(ring)):
            return await self._end_unanswered("canceled")
        if answer in ("busy", "failed", "no-answer"):
            return await self._end_unanswered(answer)
        await self._answered()

    async def _end_unanswered(self, status: str) -> None:
        self._finish(status)
        await self._status_callback("completed")

    async def _answered(self) -> None:
        call = self.call
        call.started_at = time.time()
        call.set_status("in-progress")
        if self.persona.answer == "machine":
            call.transcript.append(("caller", self.brain.voicemail_greeting()))
        await self._status_callback("answered")
        deadline = asyncio.get_running_loop().time() + call.time_limit / self.speed
        if call.machine_detection and not call.async_amd:
            if not await self._phase(self.sleep(AMD_SECONDS), deadline):
                return await self._hang_up()
            call.answered_by = self._amd_result()
        elif call.machine_detection:
            self._amd_task = asyncio.create_task(self._async_amd())
        executor = TwimlExecutor(call=call, brain=self.brain, fetch=self._fetch, sleep=self.sleep)
        url, method, document = call.url, call.method, call.twiml
        while True:
            if not await self._phase(executor.run(url, method, document=document), deadline):
                pending = call.pending
                call.pending = None
                if (
                    pending is not None
                    and pending[0] == "redirect"
                    and asyncio.get_running_loop().time() < deadline
                ):
                    url, method, document = pending[1], pending[2], None
                    continue
            break
        await self._hang_up()

    async def _hang_up(self) -> None:
        self._finish("completed")
        await self._status_callback("completed")

    async def _phase(self, coro: Coroutine[Any, Any, Any], deadline: float | None = None) -> bool:
        """Run one interruptible stretch of the call; False if a REST update (now or while
        no phase was running) or the time limit cut it short."""
        if self.call.pending is not None:
            coro.close()
            return False
        task: asyncio.Task[Any] = asyncio.create_task(coro)
        self.call.phase = task
        timeout = None if deadline is None else max(0.0, deadline - task.get_loop().time())
        try:
            done, _ = await asyncio.wait([task], timeout=timeout)
        finally:
            self.call.phase = None
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not done or task.cancelled():
            if not done:
                self.call.record("time-limit")
            return False
        task.result()
        return True

    def _finish(self, status: str) -> None:
        call = self.call
        call.ended_at = time.time()
        if call.started_at is not None:
            call.duration = max(1, math.ceil((call.ended_at - call.started_at) * self.speed))
        else:
            call.duration = 0
        call.set_status(status)
        call.finished.set()

    def _amd_result(self) -> str:
        if self.persona.answer != "machine":
            return "human"
        detect_end = (self.call.machine_detection or "").lower() == "detectmessageend"
        return "machine_end_beep" if detect_end else "machine_start"

    async def _async_amd(self) -> None:
        call = self.call
        await self.sleep(AMD_SECONDS)
        if not call.live:
            return
        call.answered_by = self._amd_result()
        call.record("amd", answered_by=call.answered_by)
        if call.async_amd_status_callback:
            await self._send(
                call.async_amd_status_callback,
                call.async_amd_status_callback_method,
                {
                    "CallSid": call.sid,
                    "AccountSid": call.account_sid,
                    "AnsweredBy": call.answered_by,
                    "MachineDetectionDuration": str(int(AMD_SECONDS * 1000)),
                },
            )

    # --- webhooks ----------------------------------------------------------------------

    def _voice_params(self) -> dict[str, str]:
        call = self.call
        params = {
            "CallSid": call.sid,
            "AccountSid": call.account_sid,
            "From": call.from_,
            "To": call.to,
            "CallStatus": call.status,
            "Direction": "outbound-api",
            "ApiVersion": API_VERSION,
            "Caller": call.from_,
            "Called": call.to,
        }
        if call.answered_by and call.machine_detection and not call.async_amd:
            params["AnsweredBy"] = call.answered_by
        return params

    async def _fetch(self, url: str, method: str, extra: Mapping[str, str]) -> str:
        params = {**self._voice_params(), **extra}
        try:
            response = await self._request(url, method, params)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TwimlError(11200, f"HTTP retrieval failure: {exc!r}") from exc
        if not response.is_success:
            raise TwimlError(11200, f"HTTP retrieval failure: {response.status_code} from {url}")
        return response.text

    async def _status_callback(self, event: str) -> None:
        call = self.call
        if not call.status_callback:
            return
        if event != "completed" and event not in call.status_callback_events:
            return
        params = {
            **self._voice_params(),
            "CallStatus": self._event_status(event),
            "CallbackSource": "call-progress-events",
            "Timestamp": rfc2822(time.time()) or "",
            "SequenceNumber": str(call.sequence),
        }
        params.pop("AnsweredBy", None)
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        if event == "completed":
            params["CallDuration"] = str(call.duration or 0)
            params["Duration"] = str(math.ceil((call.duration or 0) / 60))
            if call.record_audio and call.started_at is not None and self._recording_url:
                params["RecordingUrl"] = self._recording_url(call)
                params["RecordingSid"] = "RE" + call.sid[2:]
                params["RecordingDuration"] = str(call.duration or 0)
        call.sequence += 1
        url, method = call.status_callback, call.status_callback_method
        if self.faults.hit("drop_callbacks"):
            call.record("callback-dropped", url=url)
            return
        if event != "completed" and self.faults.hit("reorder_callbacks"):
            # Sent late, so the next callback overtakes it (Twilio does not promise order).
            call.record("callback-reordered", url=url)
            self._late.add(asyncio.create_task(self._send_later(url, method, params)))
            return
        await self._send(url, method, params)
        if self.faults.hit("duplicate_callbacks"):
            call.record("callback-duplicated", url=url)
            await self._send(url, method, params)

    async def _send_later(self, url: str, method: str, params: dict[str, str]) -> None:
        await self.sleep(2.0)
        await self._send(url, method, params)

    def _event_status(self, event: str) -> str:
        return {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}.get(
            event, self.call.status
        )

    async def _send(self, url: str, method: str, params: dict[str, str]) -> None:
        """Fire a callback; failures are logged, never raised (Twilio carries on too)."""
        try:
            response = await self._request(url, method, params)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("call %s: callback to %s failed: %r", self.call.sid, url, exc)
            self.call.record("callback-failed", url=url, error=repr(exc))
            return
        if not response.is_success:
            log.warning(
                "call %s: callback to %s answered %s", self.call.sid, url, response.status_code
            )
            self.call.record("callback-failed", url=url, status=response.status_code)

    async def _request(self, url: str, method: str, params: dict[str, str]) -> WebhookReply:
        """A request signed with X-Twilio-Signature over the full URL (and form, if POST)."""
        headers = {"User-Agent": "TwilioProxy/1.1 (voicedial emulator)"}
        if method.upper() == "GET":
            full = with_query(url, params)
            headers["X-Twilio-Signature"] = self.validator.compute_signature(full, {})
            return await self.http.request("GET", full, headers=headers)
        headers["X-Twilio-Signature"] = self.validator.compute_signature(url, params)
        return await self.http.request("POST", url, data=params, headers=headers)
