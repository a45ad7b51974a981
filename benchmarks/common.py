"""What every benchmark shares: the result row, a fresh embedded Redis, campaign settings."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from voicedial.state.embedded import ensure_embedded, stop_embedded

__all__ = ["Result", "fresh_redis", "scratch", "sliding_max"]


@dataclass
class Result:
    """One line of the table: a figure, its baseline from the same run, the target, the verdict."""

    id: str
    what: str
    figure: float
    unit: str
    target: str
    passed: bool
    baseline: float | None = None
    baseline_what: str = ""
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder under /tmp (short: unix socket paths are limited), removed after."""
    path = Path(tempfile.mkdtemp(prefix=f"vdb-{prefix}-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def fresh_redis(home: Path) -> Iterator[str]:
    """A new embedded Redis server under `home`, empty, stopped afterwards; yields its URL."""
    url = ensure_embedded(home)
    client = redis.from_url(url)
    client.flushall()
    client.close()
    try:
        yield url
    finally:
        stop_embedded(home)


def sliding_max(times: list[float], width: float = 1.0) -> int:
    """Most events in any window of `width` seconds."""
    ordered = sorted(times)
    best = lo = 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
