"""Redis behind Sentinel: `redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`.

redis-py parses no such URL (it takes sentinel addresses as a list), so it is parsed here; the
connections are redis-py's own sentinel-managed ones, which ask the sentinels for the current
primary on every (re)connect and drop a connection whose server was demoted by a failover. The
password is the data servers' (sentinels without a password are the usual set-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from voicedial.errors import ConfigError

__all__ = ["SCHEME", "SentinelTarget", "parse_sentinel_url", "sentinel_pool"]

SCHEME = "redis+sentinel://"
_DEFAULT_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """Where the sentinels are and which primary to ask them for."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def _address(text: str, url: str) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:26379
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ConfigError(f"REDIS_URL {url!r}: a sentinel address has no host")
    if port and not port.isdigit():
        raise ConfigError(f"REDIS_URL {url!r}: sentinel port {port!r} is not a number")
    return host, int(port) if port else _DEFAULT_PORT


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, service name, db and credentials of a `redis+sentinel://` URL."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"REDIS_URL {url!r}: not a {SCHEME} URL")
    rest = url[len(SCHEME) :]
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, secret = userinfo.partition(":")
        username, password = unquote(user) or None, unquote(secret) or None
    if not netloc:
        raise ConfigError(f"REDIS_URL {url!r}: no sentinel host:port")
    sentinels = tuple(_address(part, url) for part in netloc.split(",") if part)
    parts = [p for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise ConfigError(
            f"REDIS_URL {url!r}: give the service name after the sentinels, "
            "e.g. redis+sentinel://h1:26379,h2:26379/mymaster/0"
        )
    if len(parts) == 2 and not parts[1].isdigit():
        raise ConfigError(f"REDIS_URL {url!r}: db {parts[1]!r} is not a number")
    return SentinelTarget(
        sentinels=sentinels,
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
    )


class _SentinelConnection(SentinelManagedConnection):
    """redis-py's sentinel-managed connection, which also asks for the primary when it
    reconnects in place: redis-py 8 reconnects a dropped connection through
    `connect_check_health`, which its sentinel connection leaves pointed at the old primary."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel-managed connections from a pool that makes a burst of requests wait for a free
    connection, as the standalone pool does (redis-py's sentinel pool raises instead)."""


def sentinel_pool(target: SentinelTarget, **connection: Any) -> SentinelConnectionPool:
    """A pool of connections to the current primary of `target`, with `connection` options
    (timeouts, the retry, max_connections) for the data connections."""
    timeouts = {k: v for k, v in connection.items() if k.startswith("socket_")}
    manager = Sentinel(list(target.sentinels), sentinel_kwargs=timeouts)  # type: ignore[no-untyped-call]
    pool: SentinelConnectionPool = _BlockingSentinelPool(  # type: ignore[no-untyped-call]
        target.service,
        manager,
        is_master=True,
        connection_class=_SentinelConnection,
        db=target.db,
        username=target.username,
        password=target.password,
        **connection,
    )
    return pool
