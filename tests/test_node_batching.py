"""Auto-pipelining on a real three-primary Redis Cluster: commands batched per node, and sent
again through the cluster client when their node goes away."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio.cluster import RedisCluster

from benchmarks.p9_redis import counted_sends
from tests.redis_procs import ClusterSet
from voicedial.settings import load_settings
from voicedial.state.connect import open_redis
from voicedial.state.node_batching import NodeBatchedCluster, key_of


def test_the_key_of_a_command() -> None:
    assert key_of(("HGET", "k", "f")) == "k"
    assert key_of(("EVALSHA", "abc", 2, "k1", "k2", "arg")) == "k1"
    assert key_of(("EVALSHA", "abc", 0, "arg")) is None
    assert key_of(("DEL", "k1", "k2")) is None  # several keys: the cluster client's
    assert key_of(("PING",)) is None


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterSet]:
    with ClusterSet() as nodes:
        yield nodes


@pytest.fixture
async def batched(
    cluster: ClusterSet, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NodeBatchedCluster]:
    monkeypatch.setenv("REDIS_URL", cluster.url)
    async with open_redis(load_settings(redis_grace_s=20.0)) as redis:
        assert isinstance(redis, RedisCluster)
        client = NodeBatchedCluster(redis)
        yield client
        await client.aclose()
    gc.collect()  # what the cluster client dropped is reported in this test, not the next


@pytest.mark.timeout(60)
async def test_commands_for_three_nodes_go_out_in_a_batch_each(
    batched: NodeBatchedCluster,
) -> None:
    keys = [f"nb:{{{i}}}" for i in range(90)]
    nodes = {batched._rc.get_node_from_key(k).name for k in keys}  # type: ignore[union-attr]
    await asyncio.gather(*(batched.set(k, "warm") for k in keys))  # connections made
    with counted_sends() as sent:
        got = await asyncio.gather(*(batched.hincrby(k + ":h", "n", i) for i, k in enumerate(keys)))
    assert got == list(range(90))
    assert len(nodes) == 3
    assert sent[0] <= 6  # a batch per node (90 commands), not a round trip each


# While its node is down, redis-py 8.1 may replace a node object more than once inside one
# command; GraceCluster closes those it sees, and a rare one slips by (only a socket, but a
# ResourceWarning in whichever test of this worker collects it). Slow, so the default run
# keeps it out of shared workers: there, test_cluster's restart takes a `serve` (which
# batches per node) through the same reroute in a process of its own.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.timeout(60)
async def test_a_node_that_restarts_is_waited_for_through_the_cluster_client(
    cluster: ClusterSet, batched: NodeBatchedCluster
) -> None:
    key = "nb:{restart}"
    await batched.set(key, "before")
    owner = batched._rc.get_node_from_key(key)
    node = next(n for n in cluster.nodes if n.port == int(owner.port))  # type: ignore[union-attr]
    await asyncio.to_thread(node.kill9)
    pending = asyncio.create_task(batched.get(key))  # sent while the node is down
    await asyncio.sleep(0)
    await asyncio.to_thread(node.start)
    assert await asyncio.wait_for(pending, 30) == b"before"
    assert await batched.set(key, "after") and await batched.get(key) == b"after"
