"""Calls hung up because Redis stayed unreachable past the grace, remembered on local disk.

While Redis is gone, nothing can be written there: the contacts of the calls this process hangs
up would later settle as if the person had hung up (final `incomplete`). This file under
VOICEDIAL_HOME lists them; the next session on this machine marks them interrupted first, so
their contacts go back in the queue (the attempt still counts) and their leases run out at once.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable
from pathlib import Path

__all__ = ["remember", "take"]


def _path(home: Path) -> Path:
    return home / "hung-up-calls.tsv"


def remember(home: Path, campaign: str, calls: Iterable[tuple[str, str]]) -> None:
    """Append (contact_id, call_sid) pairs of `campaign`."""
    lines = [f"{campaign}\t{contact_id}\t{sid}\n" for contact_id, sid in calls]
    if not lines:
        return
    home.mkdir(parents=True, exist_ok=True)
    with _path(home).open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.writelines(lines)


def take(home: Path, campaign: str) -> list[tuple[str, str]]:
    """Remove and return the pairs remembered for `campaign` (others stay)."""
    path = _path(home)
    if not path.exists():
        return []
    with path.open("r+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        mine: list[list[str]] = []
        others: list[list[str]] = []
        for line in file.read().splitlines():
            parts = line.split("\t")
            if len(parts) != 3:
                continue  # a torn line from a crash mid-write
            (mine if parts[0] == campaign else others).append(parts)
        file.seek(0)
        file.truncate()
        file.writelines("\t".join(parts) + "\n" for parts in others)
    return [(contact_id, sid) for _, contact_id, sid in mine]
