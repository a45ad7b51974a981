"""Redis replies as this package reads them.

Every client here is made with `decode_responses=False`, so replies are bytes; redis-py's
annotations allow `str` as well (one set of types covers both modes). These helpers narrow a
reply once, where it is read, instead of a cast at every use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Entry", "byte_map", "entries", "text", "text_map", "texts"]

#: One stream entry: its id and fields (None when the entry was trimmed away meanwhile).
Entry = tuple[bytes, dict[bytes, bytes] | None]


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def text(value: Any) -> str:
    """One reply as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(values: Iterable[Any]) -> list[str]:
    """A list reply as text."""
    return [text(v) for v in values]


def text_map(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A hash reply as text."""
    return {text(k): text(v) for k, v in raw.items()}


def byte_map(raw: Mapping[Any, Any]) -> dict[bytes, bytes]:
    """A hash reply as bytes."""
    return {_bytes(k): _bytes(v) for k, v in raw.items()}


def entries(raw: Any) -> list[Entry]:
    """Stream entries (XRANGE, XCLAIM, XAUTOCLAIM's list) as (id, fields or None)."""
    return [(_bytes(i), byte_map(f) if f is not None else None) for i, f in raw]
