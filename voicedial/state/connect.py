"""The connection every command needs: Redis, embedded or at REDIS_URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicedial.errors import ConfigError, RedisUnavailable
from voicedial.settings import Settings
from voicedial.state.embedded import ensure_embedded
from voicedial.state.outage import GraceRetry, Outage
from voicedial.state.sentinel import SCHEME as SENTINEL_SCHEME
from voicedial.state.sentinel import parse_sentinel_url, sentinel_pool

__all__ = [
    "RedisClient",
    "RedisError",
    "open_redis",
    "ping",
    "redis_url",
    "server_info",
    "topology",
]

#: The connection other packages hold and pass back into this one; they never call it.
RedisClient = aioredis.Redis


def redis_url(settings: Settings) -> str:
    """REDIS_URL, else the embedded server's (started if needed)."""
    if settings.redis_url:
        return settings.redis_url
    return ensure_embedded(settings.home)


def _outage(settings: Settings) -> Outage:
    """How this process rides out Redis outages; the embedded server is restarted by it."""
    if settings.redis_url:
        return Outage(settings.redis_grace_s)
    home = settings.home

    async def revive() -> None:
        # Only a server whose data is still on disk (Redis 6's appendonly.aof, 7's folder):
        # one whose folder was deleted would come back empty, and a campaign run against it
        # would forget who was called.
        base = home / "redis"
        if not (base / "appendonly.aof").exists() and not (base / "appendonlydir").exists():
            raise RedisUnavailable(f"the embedded Redis's data under {home} is gone")
        await asyncio.to_thread(ensure_embedded, home)

    return Outage(settings.redis_grace_s, revive=revive)


def _pool(url: str, retry: GraceRetry) -> aioredis.ConnectionPool:
    """Blocking pools: under a burst of callbacks, requests wait for a connection instead of
    failing with MaxConnectionsError (redis-py's default pools raise)."""
    options: dict[str, Any] = {
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "health_check_interval": 30,
        "max_connections": 256,
        "timeout": 20,
        "retry": retry,
    }
    if url.startswith(SENTINEL_SCHEME):
        return sentinel_pool(parse_sentinel_url(url), **options)
    try:
        return aioredis.BlockingConnectionPool.from_url(url, **options)
    except ValueError as exc:  # redis-py's word for a URL it cannot use
        raise ConfigError(f"REDIS_URL {url!r}: {exc}") from None


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A checked connection pool to the campaign's Redis. Once it has answered, every command
    rides out an outage of up to `settings.redis_grace_s` (see `voicedial.state.outage`)."""
    url = redis_url(settings)
    outage = _outage(settings)
    pool = _pool(url, GraceRetry(outage))
    client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
    try:
        await client.ping()
    except (RedisConnectionError, RedisTimeoutError, RedisUnavailable, OSError) as exc:
        await client.aclose()
        where = "REDIS_URL" if settings.redis_url else "the embedded server"
        raise RedisUnavailable(f"cannot reach Redis ({where}): {exc}") from exc
    if await _is_cluster(client):
        await client.aclose()
        raise ConfigError(
            f"REDIS_URL {url!r} is a Redis Cluster node: voicedial does not run on a cluster "
            "yet; use a standalone server, or a primary with replicas behind Sentinel "
            "(redis+sentinel://host:port,.../service)"
        )
    outage.arm()
    try:
        yield client
    finally:
        await client.aclose()


async def _is_cluster(client: aioredis.Redis) -> bool:
    try:
        info = await client.info("cluster")
    except RedisError:  # servers that hide INFO sections are not clusters we could use anyway
        return False
    return bool(int(info.get("cluster_enabled", 0) or 0))


def topology(redis: RedisClient) -> str:
    """`standalone`, or `sentinel SERVICE` for a Sentinel-managed primary."""
    service = getattr(redis.connection_pool, "service_name", None)
    return f"sentinel {service}" if service else "standalone"


async def ping(redis: RedisClient) -> None:
    """Raise RedisError unless the server answers."""
    await redis.ping()


async def server_info(redis: RedisClient) -> dict[str, Any]:
    """The server's INFO sections `server`, `persistence` and `replication`, merged, with
    `appendfsync` from CONFIG GET when the server allows it (managed ones often do not)."""
    info: dict[str, Any] = dict(await redis.info("server"))
    info.update(await redis.info("persistence"))
    info.update(await redis.info("replication"))
    try:
        config = await redis.config_get("appendfsync")
    except RedisError:
        config = {}
    for name, value in config.items():
        info[name.decode() if isinstance(name, bytes) else str(name)] = (
            value.decode() if isinstance(value, bytes) else value
        )
    return info
