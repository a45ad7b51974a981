"""Redis Cluster: finding one behind REDIS_URL, and the client that rides out its outages.

A `REDIS_URL` that names any node of a cluster (`cluster_enabled:1`) is used through redis-py's
cluster client, which learns the other nodes and the slot map from it. Every key of a campaign
carries its hash tag (`voicedial.state.keys`), so each Lua script and each transaction touches
one slot; global keys (the campaign set, the do-not-call set, the phone-hash key) are single
keys that live on whichever node owns them.

redis-py's cluster client has its own retry loop (a few attempts, each refreshing the slot map)
and does not go through `Retry.call_with_retry` as the standalone client does, so the grace of
`voicedial.state.outage` is wrapped around each command and each pipeline here: a node that
restarts, or a cluster that reports CLUSTERDOWN while it notices, pauses the work instead of
failing it, for up to `--redis-grace`.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterDownError, RedisClusterException, RedisError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

from voicedial.errors import ConfigError
from voicedial.state.outage import OUTAGE_ERRORS, GraceRetry, Outage

__all__ = [
    "GraceCluster",
    "cluster_client",
    "cluster_enabled",
    "is_cluster",
    "node_of",
    "queue_script",
]

T = TypeVar("T")
_CONNECTION_CODE = os.path.join("redis", "asyncio", "connection.py")

#: What a cluster in the middle of a node restart answers, besides a refused connection.
_CLUSTER_OUTAGE = (*OUTAGE_ERRORS, ClusterDownError, TryAgainError)


async def cluster_enabled(client: aioredis.Redis) -> bool:
    """Whether the server `client` reached is a cluster node."""
    try:
        info = await client.info("cluster")
    except RedisError:  # servers that hide INFO sections are not clusters we could use anyway
        return False
    return bool(int(info.get("cluster_enabled", 0) or 0))


def is_cluster(redis: object) -> bool:
    """Whether `redis` (a client or pipeline of this package) talks to a cluster."""
    return isinstance(redis, RedisCluster | ClusterPipeline)


async def _noop(*_: Any) -> None:
    """Nothing to clean up between tries: the cluster client drops a failed node's
    connections and refreshes its slot map itself."""


def _raced(exc: AttributeError) -> bool:
    """Whether `exc` is redis-py's cluster client losing a connection under a task's feet.

    When one task's command fails on a node, the client drops every connection of that node,
    including one another task is handshaking on; that task then fails in redis-py's
    connection code with "'NoneType' object has no attribute 'writelines'" (redis-py 8.1).
    It is a connection lost like any other, retried as one."""
    frame = traceback.extract_tb(exc.__traceback__)[-1:]
    return bool(frame) and frame[0].filename.endswith(_CONNECTION_CODE)


async def _guarded(send: Callable[[], Awaitable[T]]) -> T:
    try:
        return await send()
    except AttributeError as exc:
        if _raced(exc):
            raise RedisConnectionError(f"connection dropped while in use: {exc}") from exc
        raise
    except RedisClusterException as exc:
        # Re-reading the slot map while nodes restart: redis-py says no node could be
        # reached, wrapping the last node's connection error. An outage like any other.
        if isinstance(exc.__cause__, RedisConnectionError | TimeoutError | OSError):
            raise RedisConnectionError(f"no cluster node reachable: {exc.__cause__}") from exc
        raise


class _GracePipeline(ClusterPipeline):
    """A cluster pipeline sent again, whole, while an outage lasts less than the grace (as
    redis-py's standalone pipelines are; every write voicedial pipelines may run twice)."""

    def __init__(self, client: GraceCluster, transaction: bool | None) -> None:
        super().__init__(client, transaction)
        self._grace = client.grace
        self._client = client
        self._sent: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self._sent.append((args, kwargs))
        return super().execute_command(*args, **kwargs)

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        commands, self._sent = self._sent, []
        first = True

        async def send() -> Any:
            nonlocal first
            self._client._remember()
            if not first:  # the failed try emptied the pipeline: queue the same commands again
                for args, kwargs in commands:
                    super(_GracePipeline, self).execute_command(*args, **kwargs)
            first = False
            return await _guarded(
                lambda: super(_GracePipeline, self).execute(raise_on_error, allow_redirections)
            )

        return await self._grace.call_with_retry(send, _noop)


class GraceCluster(RedisCluster):
    """redis-py's cluster client with the process's outage grace around every command."""

    def __init__(self, *, grace: GraceRetry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grace = grace
        # redis-py 8.1 replaces node objects when it re-reads the slot map (at the first
        # command, after a node restarts, possibly several times within one command) without
        # closing the old ones' connections: every node object seen around a re-read or a
        # command is remembered, and closed with the client.
        self._seen: dict[int, Any] = {}
        self._remember()

    async def initialize(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's slot-map read (its retry loop calls it after a node fails), remembering
        the node objects it replaces."""
        self._remember()
        try:
            return await super().initialize(*args, **kwargs)
        finally:
            self._remember()

    def _remember(self) -> None:
        manager = self.nodes_manager
        for node in (*manager.nodes_cache.values(), *manager.startup_nodes.values()):
            self._seen.setdefault(id(node), node)

    async def aclose(self) -> None:
        await super().aclose()
        seen, self._seen = list(self._seen.values()), {}
        for node in seen:
            with contextlib.suppress(Exception):  # closing what is already gone
                await node.disconnect()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async def send() -> Any:
            self._remember()
            return await _guarded(
                lambda: super(GraceCluster, self).execute_command(*args, **dict(kwargs))
            )

        return await self.grace.call_with_retry(send, _noop)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise ConfigError("a cluster pipeline takes no shard hint")
        return _GracePipeline(self, bool(transaction))  # type: ignore[abstract]  # as redis-py's


def cluster_client(url: str, outage: Outage, **options: Any) -> GraceCluster:
    """The cluster client for `url` (any node). A database other than 0 is refused: a
    cluster has only database 0."""
    parsed: dict[str, Any] = dict(parse_url(url))
    if int(parsed.get("db", 0) or 0) != 0:
        raise ConfigError(
            f"REDIS_URL {url!r} names database {parsed['db']}, but a Redis Cluster has only "
            "database 0: drop the /N from the URL"
        )
    parsed.pop("db", None)
    if parsed.pop("connection_class", None) is not None:
        parsed["ssl"] = True
    grace = GraceRetry(outage)
    grace.update_supported_errors(list(_CLUSTER_OUTAGE))
    return GraceCluster(
        grace=grace,
        # The client's own attempts refresh the slot map after a node went away; the grace
        # above them is what waits for the node to come back.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
        **parsed,
        **options,
    )


def node_of(redis: RedisCluster, key: str) -> Any:
    """The primary that holds `key` (commands without keys, such as WAIT or INFO, sent to it
    speak about that key's server)."""
    return redis.get_node_from_key(key)


async def queue_script(
    pipe: Any, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> None:
    """Add a Lua script's run to `pipe`. redis-py's cluster pipelines refuse EVALSHA (they
    cannot load a script a node lacks mid-pipeline), so there the source goes along (EVAL,
    routed by its first key); standalone pipelines load the script first and use EVALSHA."""
    if is_cluster(pipe):
        pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
    else:
        await script(keys=list(keys), args=list(args), client=pipe)
