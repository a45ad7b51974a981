"""Placing and controlling calls through the official `twilio` SDK, real or emulated.

The SDK's asyncio client (aiohttp underneath) places calls on the event loop itself: no thread
per request, so one process can create calls as fast as Twilio accepts them (the synchronous
client in worker threads topped out near 125 creates a second). Twilio's errors are mapped
into `TelephonyError` here, at the boundary.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from voicedial.contacts.phones import mask_numbers
from voicedial.dialing.provider import CallRequest, CallState, PlacedCall
from voicedial.errors import TelephonyError

__all__ = ["TwilioProvider"]

# Twilio error codes that mean the number itself cannot be called: settle it, never retry.
_INVALID_NUMBER_CODES = frozenset(
    {21211, 21214, 21215, 21216, 21217, 21219, 21401, 21407, 21612, 13224, 13225, 13227}
)
# Twilio error codes that mean the account itself is refused (credentials, suspension).
_AUTH_CODES = frozenset({20003, 20005, 20008})
_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
_TIMEOUT_S = 15.0
T = TypeVar("T")


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK ships no types
    """The SDK's aiohttp client, with its `request` redone for two reasons: the SDK passes
    ``timeout=None`` per request, which aiohttp reads as "no timeout at all" (a dialler must
    never wait forever on one create), and it authenticates with aiohttp's deprecated
    `BasicAuth`. The SDK still builds every request and parses every response."""

    def __init__(self, *, connections: int, timeout_s: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout_s)
        # Made here, inside the running loop (aiohttp wants that), with our pool size.
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections), timeout=self._timeout
        )

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            raw = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        body: bytes | None = None
        if data:
            # Encoded here as the SDK's own (requests) client does, lists as repeated keys:
            # aiohttp's FormData builder was a tenth of a create's time.
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.session is None:
            raise RuntimeError("the Twilio HTTP client was closed")
        limit = self._timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        async with self.session.request(
            method.upper(),
            url,
            params=params,
            data=body,
            headers=headers,
            timeout=limit,
            allow_redirects=allow_redirects,
        ) as response:
            return Response(response.status, await response.text(), response.headers)


class TwilioProvider:
    """One Twilio account (or the emulator standing in for it)."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_url: str,
        pool_size: int = 64,
        timeout_s: float = _TIMEOUT_S,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_url = api_url.rstrip("/")
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._http: _HttpClient | None = None
        self._client: Client | None = None
        self._pool = asyncio.Semaphore(pool_size)

    def _sdk(self) -> Client:
        """The SDK client, made on first use inside the running event loop."""
        if self._client is None:
            self._http = _HttpClient(connections=self._pool_size, timeout_s=self._timeout_s)
            self._client = Client(self.account_sid, self.auth_token, http_client=self._http)
            # The SDK has no setting for the REST base; its domain object honours base_url.
            self._client.api.base_url = self.api_url
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections (idempotent)."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    async def _run(self, call: Callable[[Client], Awaitable[T]]) -> T:
        async with self._pool:
            try:
                return await call(self._sdk())
            except TwilioRestException as exc:
                raise _map_rest_error(exc) from exc
            except TwilioException as exc:
                raise TelephonyError(mask_numbers(f"twilio: {exc}"), retryable=True) from exc
            except aiohttp.ClientConnectorError as exc:  # refused, DNS: nothing was sent
                raise TelephonyError(f"twilio unreachable: {exc!r}", retryable=True) from exc
            except (OSError, aiohttp.ClientError, TimeoutError) as exc:  # timed out, reset
                raise TelephonyError(
                    f"no answer from twilio: {exc!r}", retryable=True, outcome_unknown=True
                ) from exc

    async def place_call(self, req: CallRequest) -> PlacedCall:
        """Create the call; returns its CallSid and Twilio's queue time."""
        call: Any = await self._run(
            lambda sdk: sdk.calls.create_async(
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
        )
        queue = getattr(call, "queue_time", None)
        return PlacedCall(
            sid=str(call.sid), queue_time_ms=int(str(queue)) if str(queue or "").isdigit() else None
        )

    async def fetch(self, call_sid: str) -> CallState:
        """The call's current status (used to reconcile after a crash)."""
        call: Any = await self._run(lambda sdk: sdk.calls(call_sid).fetch_async())
        duration = int(call.duration) if call.duration not in (None, "") else None
        return CallState(
            sid=call_sid, status=str(call.status), duration=duration, answered_by=call.answered_by
        )

    async def calls_to(self, to: str, *, since: datetime) -> list[CallState]:
        """Calls to `to` created at or after `since` (to learn the fate of a call whose create
        may have gone out just before a worker died)."""
        calls: list[Any] = await self._run(
            lambda sdk: sdk.calls.list_async(to=to, start_time_after=since, limit=50)
        )
        out = []
        for call in calls:
            created = call.date_created
            if created is not None and created < since:
                continue
            duration = int(call.duration) if call.duration not in (None, "") else None
            out.append(
                CallState(
                    sid=str(call.sid),
                    status=str(call.status),
                    duration=duration,
                    answered_by=call.answered_by,
                )
            )
        return out

    async def account_status(self) -> str:
        """The account's status ('active', 'suspended' ...): a cheap check of credentials."""
        account: Any = await self._run(
            lambda sdk: sdk.api.v2010.accounts(self.account_sid).fetch_async()
        )
        return str(account.status)

    async def hangup(self, call_sid: str) -> None:
        """End a live call (or cancel one still ringing)."""
        await self._run(lambda sdk: sdk.calls(call_sid).update_async(status="completed"))


def _map_rest_error(exc: TwilioRestException) -> TelephonyError:
    code = exc.code if isinstance(exc.code, int) else None
    status = exc.status
    retryable = status == 429 or code == 20429 or (status is not None and status >= 500)
    # Twilio's messages quote numbers ("The source phone number provided, +1..., is not yet
    # verified"); this message goes to logs and the contact's reason.
    message = mask_numbers(f"twilio {status} error {code}: {exc.msg}".replace("\n", " "))
    return TelephonyError(
        message,
        code=code,
        status=status,
        retryable=retryable,
        # A 5xx may come after Twilio acted on the request.
        outcome_unknown=status is not None and status >= 500,
        number_invalid=code in _INVALID_NUMBER_CODES,
        account_refused=code in _AUTH_CODES or status == 401,
    )
