"""The embedded Redis server: started once under VOICEDIAL_HOME, reused, recovered from stale
files, persisted with AOF, and not started at all when REDIS_URL is set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import redis

from voicedial.settings import load_settings
from voicedial.state.connect import open_redis
from voicedial.state.embedded import embedded_url, ensure_embedded, stop_embedded


@pytest.fixture
def home() -> Path:
    # Unix socket paths are short; pytest's tmp paths can be long.
    return Path(tempfile.mkdtemp(prefix="vdr-", dir="/tmp"))


def test_started_once_reused_and_persisted(home: Path) -> None:
    url = ensure_embedded(home)
    try:
        assert url == embedded_url(home)
        pid = (home / "redis" / "redis.pid").read_text()
        client = redis.from_url(url)
        client.set("k", "v")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("hash-max-ziplist-value") == {"hash-max-ziplist-value": "256"}
        client.close()
        assert ensure_embedded(home) == url
        assert (home / "redis" / "redis.pid").read_text() == pid  # same server
    finally:
        assert stop_embedded(home)
    ensure_embedded(home)
    try:
        client = redis.from_url(url)
        assert client.get("k") == b"v"  # the AOF brought it back
        client.close()
    finally:
        stop_embedded(home)


def test_stale_socket_and_pid_file_are_replaced(home: Path) -> None:
    base = home / "redis"
    base.mkdir(parents=True)
    (base / "redis.sock").write_text("")  # not a socket: left by a crash
    (base / "redis.pid").write_text("999999")  # no such process
    url = ensure_embedded(home)
    try:
        client = redis.from_url(url)
        assert client.ping()
        client.close()
    finally:
        stop_embedded(home)


async def test_redis_url_starts_nothing(
    home: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEDIAL_HOME", str(home))
    async with open_redis(load_settings()) as client:
        assert await client.ping()
    assert not (home / "redis").exists()


def test_start_waits_only_while_the_server_process_lives(tmp_path: Path) -> None:
    # A big append-only file keeps Redis answering LOADING for a while: the start-up wait
    # goes on while the daemon lives, and stops as soon as its process is gone.
    from voicedial.state.embedded import _running

    pid = tmp_path / "redis.pid"
    assert _running(pid)  # no pid file yet: still starting
    pid.write_text(f"{os.getpid()}\n")
    assert _running(pid)
    pid.write_text("999999999\n")  # above any pid the kernel hands out
    assert not _running(pid)
