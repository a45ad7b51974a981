"""Connections every command needs: Redis (embedded or REDIS_URL) and the telephony provider."""

from __future__ import annotations

import contextlib
import gc
import ipaddress
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import ConfigError, RedisUnavailable
from .redis_server import ensure_embedded
from .settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, Settings
from .telephony import TwilioProvider

__all__ = ["Account", "account_for", "open_redis", "redis_url", "tune_gc"]


def tune_gc() -> None:
    """Garbage collection for a long-running dialler or server: what start-up created (modules,
    the SDKs, tables) is frozen out of every later collection, and young collections run after
    20,000 allocations instead of 700. Each call placed or callback served allocates a few
    thousand short-lived objects; with CPython's defaults the collector ran several times per
    call and walked every long-lived object on each full pass (about a tenth of the dial path's
    CPU). Cycles are still collected, just in bigger, rarer batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def redis_url(settings: Settings) -> str:
    """REDIS_URL, else the embedded server's (started if needed)."""
    if settings.redis_url:
        return settings.redis_url
    return ensure_embedded(settings.home)


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A checked connection pool to the campaign's Redis."""
    url = redis_url(settings)
    # A blocking pool: under a burst of callbacks, requests wait for a connection instead of
    # failing with MaxConnectionsError (redis-py's default pool raises).
    pool = aioredis.BlockingConnectionPool.from_url(
        url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30,
        max_connections=256, timeout=20)
    client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
    try:
        await client.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        await client.aclose()
        where = "REDIS_URL" if settings.redis_url else "the embedded server"
        raise RedisUnavailable(f"cannot reach Redis ({where}): {exc}") from exc
    try:
        yield client
    finally:
        await client.aclose()


class Account:
    """The Twilio account a command works on: real credentials, or the emulator's."""

    def __init__(self, *, sid: str, token: str, api_url: str, sim: bool) -> None:
        self.sid = sid
        self.token = token
        self.api_url = api_url
        self.sim = sim

    @property
    def emulated(self) -> bool:
        """True when no real call can be placed: the in-process emulator, or a Twilio API URL
        on loopback (`voicedial sim`)."""
        if self.sim:
            return True
        host = urlparse(self.api_url).hostname or ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def provider(self, api_url: str | None = None) -> TwilioProvider:
        """A provider for this account (api_url overrides, for an emulator on a new port)."""
        return TwilioProvider(account_sid=self.sid, auth_token=self.token,
                              api_url=api_url or self.api_url)


def account_for(settings: Settings, provider: str | None) -> Account:
    """Pick the account: `sim` without credentials (or when asked), else Twilio's."""
    chosen = provider or ("twilio" if settings.has_twilio else "sim")
    if chosen == "sim":
        return Account(sid=SIM_ACCOUNT_SID, token=SIM_AUTH_TOKEN, api_url="", sim=True)
    if chosen != "twilio":
        raise ConfigError(f"--provider {chosen!r}: use twilio or sim")
    if not settings.has_twilio:
        raise ConfigError("--provider twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    sid, token = settings.twilio_account_sid or "", settings.twilio_auth_token
    return Account(sid=sid, token=token.get_secret_value() if token else "",
                   api_url=settings.twilio_api_url, sim=False)
