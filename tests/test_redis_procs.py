"""The real-process Redis helpers: a server survives kill -9 through its AOF, Sentinel fails
over to the replica with the data, and a three-node Cluster serves keys across all slots."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from tests.redis_procs import (
    ClusterSet,
    RedisProc,
    SentinelSet,
    close_cluster_client,
    free_cluster_port,
    free_port,
    wait_until,
)


def test_free_port_is_bindable_and_wait_until_names_what_timed_out() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = free_port()
    assert 1024 <= port < low  # never an ephemeral port an outgoing connection could hold
    cluster_port = free_cluster_port()
    assert cluster_port + 10000 < low  # its bus port too
    with pytest.raises(AssertionError, match="the impossible"):
        wait_until(lambda: False, "the impossible", timeout=0.1)


def test_kill9_then_restart_keeps_the_aof_data() -> None:
    with RedisProc() as server:
        client = server.client()
        try:
            client.set("k", "v")
            pid = server.pid
            server.kill9()
            assert not server.running
            with pytest.raises(redis.ConnectionError):
                client.get("k")
            server.restart()
            assert server.pid not in (None, pid)
            assert client.get("k") == b"v"  # appendfsync always: acknowledged means on disk
        finally:
            client.close()
    assert not server.running
    assert not server.dir.exists()


def test_start_failure_leaves_no_process() -> None:
    with RedisProc() as first:
        clash = RedisProc(port=first.port)  # the port is taken: the second server exits
        with pytest.raises(AssertionError, match="exited while starting"):
            clash.start(timeout=5)
        assert not clash.running
        clash.close()


def test_sentinel_fails_over_to_the_replica_with_the_data() -> None:
    with SentinelSet() as rig:
        assert rig.url.startswith("redis+sentinel://127.0.0.1:")
        assert rig.url.endswith("/vdmaster/0")
        sentinel = Sentinel(rig.sentinel_addrs(), socket_timeout=2.0)
        try:
            primary = sentinel.master_for(rig.service, socket_timeout=2.0)
            primary.set("before", "failover")
            assert primary.wait(1, 1000) == 1  # the replica has it
            primary.close()

            old_port = rig.kill_primary()
            new_port = rig.wait_failover(old_port)
            assert new_port != old_port
            assert rig.primary_port() == new_port

            fresh = sentinel.master_for(rig.service, socket_timeout=2.0)
            assert fresh.get("before") == b"failover"
            fresh.set("after", "failover")  # writable: a primary, not a read-only replica
            assert fresh.get("after") == b"failover"
            fresh.close()
        finally:
            sentinel.close()
    assert not any(proc.running for proc in [*rig.servers, *rig.sentinels])


def test_cluster_serves_keys_across_slots() -> None:
    with ClusterSet() as cluster:
        assert cluster.url == cluster.urls[0]
        client = RedisCluster.from_url(cluster.url)
        try:
            keys = [f"key:{i}" for i in range(30)]
            for key in keys:
                client.set(key, key.upper())
            assert [client.get(key) for key in keys] == [k.upper().encode() for k in keys]
            owners = {client.get_node_from_key(key).port for key in keys}
            assert owners == {node.port for node in cluster.nodes}  # spread over every node
            assert client.cluster_info()["cluster_state"] == "ok"
            node_client = cluster.node(1).client()
            assert node_client.dbsize() > 0
            node_client.close()
        finally:
            close_cluster_client(client)  # client.close() alone leaks from_url node sockets
    assert not any(node.running for node in cluster.nodes)
