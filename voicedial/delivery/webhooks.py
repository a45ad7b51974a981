"""Webhook delivery: the message, its Standard Webhooks signature, the retry schedule,
and the guard that keeps webhooks off loopback, private, link-local and metadata addresses.

One `WebhookSender.send()` is one attempt; *when* to try again is the outbox's business (it keeps
the schedule in Redis, so a retry waiting five hours holds nothing in memory and blocks no other
event).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from voicedial.delivery.events import PROFILE_EVENT, OutboxEvent
from voicedial.errors import ConfigError, DeliveryError
from voicedial.settings import Settings

__all__ = [
    "DeliveryResult",
    "RetrySchedule",
    "WebhookRefused",
    "WebhookSender",
    "check_webhook_url",
    "webhook_body",
]

_DEFAULT_DELAYS_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
_USER_AGENT = "voicedial-webhooks/1"
# Client errors worth another try (timeout, conflict, too early, too many requests); any other
# 3xx or 4xx would be answered the same way again, so it is dead-lettered at once.
_RETRIED_4XX = frozenset({408, 409, 425, 429})
_UNIT_S = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

Resolver = Callable[[str, int], Awaitable[list[str]]]


class WebhookRefused(DeliveryError):
    """A webhook URL voicedial will not send to (scheme, or a non-public address)."""


@dataclass(frozen=True)
class RetrySchedule:
    """When the attempts of one delivery happen: `delays_s[i]` is the wait before attempt i+1
    (the first is normally 0: at once). After the last attempt fails, the event is dead-lettered.

    Each wait is spread by +/- `jitter` (a fraction) so that a receiver coming back is not hit by
    every queued retry at once; a `Retry-After` longer than the scheduled wait wins, capped at
    `max_retry_after_s`."""

    delays_s: tuple[float, ...] = _DEFAULT_DELAYS_S
    jitter: float = 0.1
    max_retry_after_s: float = 86400.0

    def __post_init__(self) -> None:
        if not self.delays_s:
            raise ConfigError("a webhook retry schedule needs at least one attempt")
        if any(d < 0 for d in self.delays_s) or not 0 <= self.jitter < 1:
            raise ConfigError("webhook retry delays must be >= 0 and jitter in [0, 1)")

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """'0,5s,5m,30m,2h,5h,10h' -> a schedule (bare numbers are seconds)."""
        delays = []
        for part in text.split(","):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", part.lower())
            if not match:
                raise ConfigError(f"webhook retry schedule {text!r}: use e.g. 0,5s,5m,30m,2h")
            delays.append(float(match.group(1)) * _UNIT_S[match.group(2) or ""])
        return cls(delays_s=tuple(delays))

    @property
    def attempts(self) -> int:
        """How many attempts one event gets before it is dead-lettered."""
        return len(self.delays_s)

    def next_delay(
        self,
        attempts_made: int,
        *,
        retry_after_s: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when none is left."""
        if attempts_made >= self.attempts:
            return None
        base = self.delays_s[attempts_made]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        delay = base * (1 + spread)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return delay


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt came to. `permanent` failures (a refused URL, no secret) are not
    retried: they are dead-lettered at once, with `error` as the reason."""

    ok: bool
    status: int | None = None
    error: str = ""
    retry_after_s: float | None = None
    permanent: bool = False


def webhook_body(event: OutboxEvent) -> bytes:
    """The JSON body of a `worker_profile.completed` webhook (the same bytes on every
    attempt: its timestamp is when the call ended)."""
    payload = {
        "type": PROFILE_EVENT,
        "timestamp": event.ended_at or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "campaign": event.campaign,
            "call_id": event.call_id,
            "external_id": event.external_id,
            "profile": event.profile,
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for loopback, RFC 1918, link-local (169.254.169.254, the cloud metadata
    # address, included), CGNAT, ULA (fd00:ec2::254) and other special-purpose ranges.
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_webhook_url(
    url: str, *, allow_private: bool, resolver: Resolver = _resolve
) -> None:
    """Raise WebhookRefused unless `url` is http(s) and every address it resolves to is public
    (or `allow_private`). A name that does not resolve right now is a DeliveryError (retried)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Scheme and host only: a webhook URL's query often carries a token.
        shown = f"{parts.scheme}://{parts.hostname or ''}"
        raise WebhookRefused(f"webhook URL {shown!r}: only http(s) URLs with a host are allowed")
    if allow_private:
        return
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolver(host, parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            raise DeliveryError(f"cannot resolve {host}: {exc}") from exc
    blocked = [a for a in addresses if not _public(a)]
    if blocked or not addresses:
        raise WebhookRefused(
            f"webhook host {host} resolves to a non-public address "
            f"({', '.join(blocked) or 'none'}); set "
            "VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS=true to allow it"
        )


@dataclass
class WebhookSender:
    """Signs and POSTs webhook messages; one `send()` is one attempt.

    `transport` lets tests swap the network edge (httpx.MockTransport, ASGITransport); `resolver`
    replaces DNS for the address guard."""

    secret: str | None
    allow_private: bool = False
    timeout_s: float = 15.0
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    transport: httpx.AsyncBaseTransport | None = None
    resolver: Resolver = _resolve
    _signer: Webhook | None = field(init=False, default=None, repr=False)
    _client: httpx.AsyncClient | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.secret:
            try:
                self._signer = Webhook(self.secret)
            except Exception as exc:  # binascii.Error, EmptyWebhookSecretError, ...
                raise ConfigError(
                    "VOICEDIAL_WEBHOOK_SECRET is not a whsec_<base64> secret"
                ) from exc

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WebhookSender:
        """A sender configured by Settings (secret, allow-private, schedule, timeout)."""
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        kwargs: dict[str, Any] = {
            "secret": secret,
            "allow_private": settings.allow_private_webhooks,
        }
        # Optional settings (read when present): a compressed schedule, a shorter timeout.
        schedule = getattr(settings, "webhook_schedule", None)
        if schedule:
            kwargs["schedule"] = RetrySchedule.parse(schedule)
        timeout = getattr(settings, "webhook_timeout_s", None)
        if timeout:
            kwargs["timeout_s"] = float(timeout)
        kwargs.update(overrides)
        return cls(**kwargs)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects: a 3xx is a failure, and following one could lead past the guard.
            self._client = httpx.AsyncClient(
                transport=self.transport,
                follow_redirects=False,
                timeout=self.timeout_s,
                trust_env=False,
                headers={"user-agent": _USER_AGENT},
            )
        return self._client

    def headers(self, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
        """The Standard Webhooks headers for one attempt (a fresh timestamp each time)."""
        if self._signer is None:
            raise ConfigError("no VOICEDIAL_WEBHOOK_SECRET: webhooks cannot be signed")
        signature = self._signer.sign(msg_id=msg_id, timestamp=now, data=body.decode())
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        }

    async def send(self, url: str, event: OutboxEvent) -> DeliveryResult:
        """POST one event to `url`, once. Never raises for delivery problems."""
        if self._signer is None:
            return DeliveryResult(
                False,
                error="VOICEDIAL_WEBHOOK_SECRET is not set: webhooks cannot be signed",
                permanent=True,
            )
        try:
            await check_webhook_url(url, allow_private=self.allow_private, resolver=self.resolver)
        except WebhookRefused as exc:
            return DeliveryResult(False, error=str(exc), permanent=True)
        except DeliveryError as exc:
            return DeliveryResult(False, error=str(exc))
        now = datetime.now(UTC)
        body = webhook_body(event)
        try:
            # One deadline for the whole attempt, connect to last byte: httpx's timeouts are
            # per operation, so a receiver sending a byte every few seconds held it for good.
            async with asyncio.timeout(self.timeout_s):
                response = await self._http().post(
                    url, content=body, headers=self.headers(event.webhook_id, body, now)
                )
        except (TimeoutError, httpx.TimeoutException):
            return DeliveryResult(False, error=f"no complete answer within {self.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return DeliveryResult(False, error=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if response.is_success:
            return DeliveryResult(True, status=status)
        if 300 <= status < 500 and status not in _RETRIED_4XX:
            why = "a redirect is not followed" if status < 400 else "the receiver refused it"
            return DeliveryResult(
                False, status=status, error=f"HTTP {status}: {why}; not retried", permanent=True
            )
        return DeliveryResult(
            False,
            status=status,
            error=f"HTTP {status}",
            retry_after_s=_retry_after(response.headers.get("retry-after"), now),
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
