"""Placing and controlling calls through the official `twilio` SDK, real or emulated.

The SDK is synchronous; its calls run in worker threads so the event loop keeps serving
callbacks. Twilio's errors are mapped into `TelephonyError` here, at the boundary.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .errors import TelephonyError

__all__ = ["INVALID_NUMBER_CODES", "CallRequest", "CallState", "TwilioProvider"]

# Twilio error codes that mean the number itself cannot be called: settle it, never retry.
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21215, 21216, 21217, 21219, 21401, 21407, 21612,
                                  13224, 13225, 13227})
_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What one outbound call needs."""

    to: str
    from_: str
    url: str
    status_callback: str
    amd_callback: str
    timeout_s: int = 30
    time_limit_s: int = 600
    record: bool = False


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call Twilio accepted: its sid and how long Twilio expects to queue it (CPS limit)."""

    sid: str
    queue_time_ms: int | None


@dataclass(frozen=True, slots=True)
class CallState:
    """What a fetch of a call resource tells."""

    sid: str
    status: str
    duration: int | None
    answered_by: str | None


class TwilioProvider:
    """One Twilio account (or the emulator standing in for it)."""

    def __init__(self, *, account_sid: str, auth_token: str, api_url: str,
                 pool_size: int = 64) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_url = api_url.rstrip("/")
        http = TwilioHttpClient(pool_connections=True, max_retries=None, timeout=15)
        self._client = Client(account_sid, auth_token, http_client=http)
        # The SDK has no setting for the REST base; its domain object honours base_url.
        self._client.api.base_url = api_url.rstrip("/")
        self._pool = asyncio.Semaphore(pool_size)

    async def _run(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        async with self._pool:
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except TwilioRestException as exc:
                raise _map_rest_error(exc) from exc
            except TwilioException as exc:
                raise TelephonyError(f"twilio: {exc}", retryable=True) from exc
            except OSError as exc:  # connection refused, reset, DNS
                raise TelephonyError(f"twilio unreachable: {exc}", retryable=True) from exc

    async def place_call(self, req: CallRequest) -> PlacedCall:
        """Create the call; returns its CallSid and Twilio's queue time."""
        call = await self._run(
            self._client.calls.create,
            to=req.to,
            from_=req.from_,
            url=req.url,
            method="POST",
            status_callback=req.status_callback,
            status_callback_method="POST",
            status_callback_event=_STATUS_EVENTS,
            machine_detection="Enable",
            async_amd="true",
            async_amd_status_callback=req.amd_callback,
            async_amd_status_callback_method="POST",
            timeout=req.timeout_s,
            time_limit=req.time_limit_s,
            record=req.record,
        )
        queue = getattr(call, "queue_time", None)
        return PlacedCall(sid=str(call.sid),
                          queue_time_ms=int(queue) if str(queue or "").isdigit() else None)

    async def fetch(self, call_sid: str) -> CallState:
        """The call's current status (used to reconcile after a crash)."""
        call = await self._run(self._client.calls(call_sid).fetch)
        duration = int(call.duration) if call.duration not in (None, "") else None
        return CallState(sid=call_sid, status=str(call.status), duration=duration,
                         answered_by=call.answered_by)

    async def calls_to(self, to: str, *, since: datetime) -> list[CallState]:
        """Calls to `to` created at or after `since` (to learn the fate of a call whose create
        may have gone out just before a worker died)."""
        calls = await self._run(self._client.calls.list, to=to, start_time_after=since,
                                limit=50)
        out = []
        for call in calls:
            created = call.date_created
            if created is not None and created < since:
                continue
            duration = int(call.duration) if call.duration not in (None, "") else None
            out.append(CallState(sid=str(call.sid), status=str(call.status), duration=duration,
                                 answered_by=call.answered_by))
        return out

    async def account_status(self) -> str:
        """The account's status ('active', 'suspended' ...): a cheap check of credentials."""
        account = await self._run(self._client.api.v2010.accounts(self.account_sid).fetch)
        return str(account.status)

    async def hangup(self, call_sid: str) -> None:
        """End a live call (or cancel one still ringing)."""
        await self._run(self._client.calls(call_sid).update, status="completed")


def _map_rest_error(exc: TwilioRestException) -> TelephonyError:
    code = exc.code if isinstance(exc.code, int) else None
    status = exc.status
    retryable = status == 429 or code == 20429 or (status is not None and status >= 500)
    message = f"twilio {status} error {code}: {exc.msg}".replace("\n", " ")
    return TelephonyError(message, code=code, status=status, retryable=retryable)
