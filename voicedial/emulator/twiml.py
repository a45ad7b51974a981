"""Executing TwiML the way Twilio does, for one emulated call.

No Python library executes TwiML (`twilio.twiml` only *builds* it), so documents are parsed
with `xml.etree.ElementTree` and walked verb by verb here.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urljoin

from voicedial.emulator.brain import CallerBrain

__all__ = ["CallLog", "EndReason", "TwimlError", "TwimlExecutor"]

log = logging.getLogger(__name__)

EndReason = Literal["hangup", "end", "reject", "caller-hangup", "app-error"]
WORDS_PER_SECOND = 2.5
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."

# (url, method, params) -> response body; raises TwimlError on a transport error or non-2xx.
Fetch = Callable[[str, str, Mapping[str, str]], Awaitable[str]]
Sleep = Callable[[float], Awaitable[None]]


class CallLog(Protocol):
    """The parts of a call that executing TwiML writes to (`calls.SimCall` is the real one)."""

    sid: str
    app_error: int | None
    transcript: list[tuple[str, str]]

    def record(self, kind: str, **details: Any) -> None:
        """Append an event to the call's history."""


class TwimlError(Exception):
    """The application's TwiML could not be fetched (11200) or parsed (12100)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class _Navigate:
    """Leave the current document for another one (Gather action, Redirect)."""

    url: str
    method: str
    params: dict[str, str] = field(default_factory=dict)


def _speaking_time(text: str) -> float:
    return max(0.3, len(text.split()) / WORDS_PER_SECOND)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _method(elem: ET.Element) -> str:
    return (elem.get("method") or "POST").upper()


class TwimlExecutor:
    """Walks TwiML documents for one call, consulting the caller's brain at each Gather."""

    def __init__(self, *, call: CallLog, brain: CallerBrain, fetch: Fetch, sleep: Sleep) -> None:
        self.call = call
        self.brain = brain
        self._fetch = fetch
        self._sleep = sleep
        self._heard: list[str] = []  # agent speech since the caller last answered

    async def run(
        self, url: str | None, method: str = "POST", *, document: str | None = None
    ) -> EndReason:
        """Fetch `url` (or use an inline `document`) and execute until the call ends."""
        nav: _Navigate | None = None if url is None else _Navigate(url, method)
        try:
            while True:
                if nav is not None:
                    self.call.record("twiml", url=nav.url, method=nav.method)
                    document = await self._fetch(nav.url, nav.method, nav.params)
                    base = nav.url
                else:
                    base = ""
                outcome = await self._execute(_parse(document or ""), base)
                if isinstance(outcome, _Navigate):
                    nav = outcome
                    continue
                return outcome
        except TwimlError as exc:
            log.warning("call %s: application error %s", self.call.sid, exc)
            self.call.app_error = exc.code
            self.call.record("error", code=exc.code, message=exc.message)
            await self._sleep(_speaking_time(APPLICATION_ERROR))
            return "app-error"

    async def _execute(self, root: ET.Element, base: str) -> EndReason | _Navigate:
        for verb in root:
            outcome = await self._verb(verb, base)
            if outcome is not None:
                return outcome
        return "end"

    async def _verb(self, verb: ET.Element, base: str) -> EndReason | _Navigate | None:
        tag = verb.tag
        if tag in ("Say", "Play", "Pause"):
            await self._media(verb)
        elif tag == "Gather":
            return await self._gather(verb, base)
        elif tag == "Redirect":
            target = (verb.text or "").strip()
            if not target:
                raise TwimlError(12200, "Redirect without a URL")
            return _Navigate(urljoin(base, target), _method(verb))
        elif tag == "Hangup":
            self.call.record("hangup", source="twiml")
            return "hangup"
        elif tag == "Reject":
            self.call.record("reject", reason=verb.get("reason", "rejected"))
            return "reject"
        else:
            # Dial, Record, Enqueue ... are not emulated: note them and carry on, as a
            # conversation-only emulator is all voicedial needs.
            self.call.record("unsupported", verb=tag)
        return None

    async def _media(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            text = " ".join((verb.text or "").split())
            loops = max(1, min(int(_float(verb.get("loop"), 1)), 10))
            if text:
                self.call.transcript.append(("agent", text))
                self.call.record("say", text=text)
                self._heard.append(text)
                await self._sleep(_speaking_time(text) * loops)
        elif verb.tag == "Play":
            self.call.record("play", url=(verb.text or "").strip())
            await self._sleep(2.0)
        else:
            await self._sleep(_float(verb.get("length"), 1.0))

    async def _gather(self, verb: ET.Element, base: str) -> EndReason | _Navigate | None:
        for child in verb:
            if child.tag in ("Say", "Play", "Pause"):
                await self._media(child)
        kinds = set((verb.get("input") or "dtmf").lower().split())
        action = urljoin(base, verb.get("action") or base) if (verb.get("action") or base) else ""
        method = _method(verb)
        timeout = _float(verb.get("timeout"), 5.0)
        speech_timeout = verb.get("speechTimeout") or verb.get("speechtimeout")
        end_pause = 0.8 if speech_timeout in (None, "auto") else _float(speech_timeout, timeout)

        reply = self.brain.reply(
            " ".join(self._heard), speech="speech" in kinds, dtmf="dtmf" in kinds
        )
        if reply.hangup:
            self.call.record("hangup", source="caller")
            await self._sleep(0.5)
            return "caller-hangup"
        params: dict[str, str] = {}
        if reply.speech and "speech" in kinds:
            await self._sleep(0.4 + _speaking_time(reply.speech) + end_pause)
            self._answered(reply.speech)
            params = {"SpeechResult": reply.speech, "Confidence": f"{reply.confidence:.4f}"}
        elif reply.digits and "dtmf" in kinds:
            await self._sleep(0.5 * len(reply.digits) + 0.5)
            self._answered(f"[pressed {reply.digits}]")
            params = {"Digits": reply.digits}
        else:
            await self._sleep(timeout)
            self.call.record("gather", result="empty")
            if (verb.get("actionOnEmptyResult") or "").lower() != "true":
                return None  # Twilio falls through to the verb after <Gather>
        if params:
            self.call.record("gather", result="input", **params)
        if not action:
            return "end"
        return _Navigate(action, method, params)

    def _answered(self, text: str) -> None:
        self.call.transcript.append(("caller", text))
        self._heard.clear()


def _parse(document: str) -> ET.Element:
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(12100, f"Document parse failure: root is <{root.tag}>, not <Response>")
    return root
