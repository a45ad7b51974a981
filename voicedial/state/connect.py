"""The connection every command needs: Redis, embedded or at REDIS_URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicedial.errors import ConfigError, RedisUnavailable
from voicedial.settings import Settings
from voicedial.state.cluster import cluster_client, cluster_enabled, is_cluster, node_of
from voicedial.state.dnc import migrate_legacy
from voicedial.state.embedded import ensure_embedded
from voicedial.state.keys import DNC_LEGACY
from voicedial.state.outage import GraceRetry, Outage
from voicedial.state.sentinel import SCHEME as SENTINEL_SCHEME
from voicedial.state.sentinel import parse_sentinel_url, sentinel_pool

__all__ = [
    "RedisClient",
    "RedisError",
    "open_redis",
    "ping",
    "primaries_info",
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


_SOCKET_OPTIONS: dict[str, Any] = {
    "socket_timeout": 30,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}


def _pool(url: str, retry: GraceRetry) -> aioredis.ConnectionPool:
    """Blocking pools: under a burst of callbacks, requests wait for a connection instead of
    failing with MaxConnectionsError (redis-py's default pools raise)."""
    options: dict[str, Any] = {
        **_SOCKET_OPTIONS,
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
    except ResponseError as exc:
        await client.aclose()
        if "cluster mode" in str(exc):  # SELECT N refused: a cluster has only database 0
            raise ConfigError(
                f"REDIS_URL {url!r} names a database other than 0, but it is a Redis Cluster "
                "node and a cluster has only database 0: drop the /N from the URL"
            ) from None
        raise
    except (RedisConnectionError, RedisTimeoutError, RedisUnavailable, OSError) as exc:
        await client.aclose()
        where = "REDIS_URL" if settings.redis_url else "the embedded server"
        raise RedisUnavailable(f"cannot reach Redis ({where}): {exc}") from exc
    if await cluster_enabled(client):
        await client.aclose()
        client = await _open_cluster(url, outage)
    outage.arm()
    try:
        if await client.exists(DNC_LEGACY):  # written by a version before the shards
            await migrate_legacy(client)
        yield client
    finally:
        await client.aclose()


async def _open_cluster(url: str, outage: Outage) -> aioredis.Redis:
    if url.startswith(SENTINEL_SCHEME):
        raise ConfigError(f"REDIS_URL {url!r}: Sentinel names a primary, not a cluster node")
    cluster = cluster_client(url, outage, **_SOCKET_OPTIONS)
    try:
        await cluster.initialize()
    except (RedisError, OSError) as exc:
        await cluster.aclose()
        raise RedisUnavailable(f"cannot use the Redis Cluster at {url!r}: {exc}") from exc
    # The cluster client speaks the same commands as `Redis` (what every module here is
    # written against); where it differs (pipelines of scripts, commands without keys),
    # `voicedial.state.cluster` says so and this package asks `is_cluster`.
    return cast(aioredis.Redis, cluster)


def topology(redis: RedisClient) -> str:
    """`standalone`, `sentinel SERVICE` for a Sentinel-managed primary, or `cluster` and its
    primaries."""
    if is_cluster(redis):
        primaries = sorted(node.name for node in redis.get_primaries())  # type: ignore[attr-defined]
        return f"cluster of {len(primaries)} primaries ({', '.join(primaries)})"
    service = getattr(redis.connection_pool, "service_name", None)
    return f"sentinel {service}" if service else "standalone"


async def ping(redis: RedisClient) -> None:
    """Raise RedisError unless the server answers."""
    await redis.ping()


async def server_info(redis: RedisClient, key: str | None = None) -> dict[str, Any]:
    """The server's INFO sections `server`, `persistence` and `replication`, merged, with
    `appendfsync` from CONFIG GET when the server allows it (managed ones often do not).
    On a cluster: those of the primary that holds `key` (else of any one primary)."""
    if not is_cluster(redis):
        return await _info(redis, {})
    node = node_of(redis, key) if key else redis.get_random_node()  # type: ignore[arg-type, attr-defined]
    return await _info(redis, {"target_nodes": node})


async def primaries_info(redis: RedisClient) -> list[tuple[str, dict[str, Any]]]:
    """`server_info` of every primary, each with its address ("" on a single server)."""
    if not is_cluster(redis):
        return [("", await _info(redis, {}))]
    primaries = sorted(redis.get_primaries(), key=lambda node: node.name)  # type: ignore[attr-defined]
    return [(node.name, await _info(redis, {"target_nodes": node})) for node in primaries]


async def _info(redis: RedisClient, target: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = dict(await redis.info("server", **target))
    info.update(await redis.info("persistence", **target))
    info.update(await redis.info("replication", **target))
    try:
        config = await redis.config_get("appendfsync", **target)
    except RedisError:
        config = {}
    for name, value in config.items():
        info[name.decode() if isinstance(name, bytes) else str(name)] = (
            value.decode() if isinstance(value, bytes) else value
        )
    return info
