"""Rows an import skips, and the rejects file written beside it, each with its reason."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Reject", "RejectsWriter"]


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was skipped, and why (``invalid number``, ``duplicate of row N`` ...)."""

    row: int
    raw_phone: str
    reason: str


class RejectsWriter:
    """Appends rejects to a CSV file (``row,phone,reason``), writing the header once.

    Use it as a context manager; the file and its parent directories are created on entry.
    `written` counts the rejects written through this writer.
    """

    FIELDS = ("row", "phone", "reason")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.written = 0
        self._file: TextIO | None = None
        self._writer: Any = None  # a csv writer (its type is private to the csv module)

    def __enter__(self) -> RejectsWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(self.FIELDS)
        return self

    def write(self, rejects: Iterable[Reject]) -> int:
        """Append `rejects`; returns how many were written."""
        if self._writer is None:
            raise RuntimeError("RejectsWriter is used outside its `with` block")
        rows = [(reject.row, reject.raw_phone, reject.reason) for reject in rejects]
        self._writer.writerows(rows)
        self.written += len(rows)
        return len(rows)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None
