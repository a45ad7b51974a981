"""Auto-pipelining on a Redis Cluster: each command goes to its slot's primary, batched with
the other commands bound for that node (`AutoPipelinedRedis` per node).

redis-py's cluster client sends each command on its own (its pipelines are explicit), so a
callback server on a cluster would pay a round trip per command where on one server it pays
one per batch. The slot map is the cluster client's; a command whose node is unreachable,
or that meets MOVED, ASK, TRYAGAIN or CLUSTERDOWN (a failover, a resharding, a restart), is
sent again through the cluster client, which follows the redirection, refreshes its map and
rides out the outage with the process's grace. Commands whose key this module cannot name
(several keys, none) go through the cluster client at once.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicedial.state.autopipeline import AutoPipelinedRedis

__all__ = ["NodeBatchedCluster"]

#: Commands whose first argument is their only key: the ones the stores send on their own.
_ONE_KEY = frozenset(
    {
        "GET", "SET", "EXPIRE", "PEXPIRE", "TTL", "TYPE",
        "HGET", "HSET", "HSETNX", "HMGET", "HGETALL", "HINCRBY", "HDEL", "HEXISTS", "HLEN",
        "ZADD", "ZREM", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE", "ZCARD", "ZCOUNT",
        "SADD", "SREM", "SISMEMBER", "SMISMEMBER", "SMEMBERS", "SCARD",
        "LPUSH", "LRANGE", "LTRIM", "XADD", "XLEN",
    }
)  # fmt: skip
#: What sends a command back through the cluster client: the node is gone or not the owner.
_REROUTE = (
    RedisConnectionError,
    RedisTimeoutError,
    MovedError,
    AskError,
    TryAgainError,
    ClusterDownError,
)
#: Connection settings a node client takes from the cluster client's.
_NODE_KWARGS = (
    "username",
    "password",
    "credential_provider",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
)


def key_of(args: tuple[Any, ...]) -> Any | None:
    """The one key of a command, or None when it has several, none, or is not known here."""
    name = str(args[0]).upper()
    if name in ("EVALSHA", "EVAL"):
        return args[3] if len(args) > 3 and int(args[2]) > 0 else None
    if name in _ONE_KEY and len(args) > 1:
        return args[1]
    return None


class NodeBatchedCluster(Redis):
    """The cluster client's commands, auto-pipelined per primary. `pipeline()` is the
    cluster client's; `aclose()` closes the node clients and leaves the cluster client open."""

    def __init__(self, cluster: RedisCluster) -> None:
        super().__init__()  # a pool that is never used: every command is routed below
        self._rc = cluster
        self.response_callbacks = cluster.response_callbacks
        self._nodes: dict[str, AutoPipelinedRedis] = {}

    def _batcher(self, key: Any) -> AutoPipelinedRedis | None:
        node = self._rc.get_node_from_key(key)
        if node is None:  # a slot no node serves (yet): the cluster client's to sort out
            return None
        batcher = self._nodes.get(node.name)
        if batcher is None:
            settings = self._rc.nodes_manager.connection_kwargs
            client = Redis(
                host=node.host,
                port=int(node.port),
                # No retries of its own: a failure goes back through the cluster client.
                retry=Retry(NoBackoff(), 0),
                ssl=issubclass(settings.get("connection_class", object), SSLConnection),
                **{name: settings[name] for name in _NODE_KWARGS if name in settings},
            )
            batcher = self._nodes[node.name] = AutoPipelinedRedis(client)
        return batcher

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        key = key_of(args)
        batcher = None if key is None else self._batcher(key)
        if batcher is None:
            return await self._rc.execute_command(*args, **options)
        try:
            return await batcher.execute_command(*args, **options)
        except _REROUTE:
            return await self._rc.execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        return self._rc.pipeline(transaction=transaction)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        for batcher in self._nodes.values():
            await batcher.aclose()
            await batcher.connection_pool.disconnect()
        self._nodes.clear()
        await super().aclose(close_connection_pool)
