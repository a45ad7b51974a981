"""What a session left behind when Redis stayed unreachable past the grace, on local disk.

While Redis is gone nothing can be written there: the contacts of the calls the session hung up
would later settle as if the person had hung up (final `incomplete`), and the contacts it had
claimed would wait for its heartbeat to run out. This file under VOICEDIAL_HOME lists both; the
next session on this machine marks those calls interrupted (their contacts go back in the
queue, the attempt still counts) and retires the worker, so the reconciler settles it all at
once.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Abandoned", "remember", "take"]


@dataclass
class Abandoned:
    """One campaign's leftovers: workers that stopped, and their calls hung up."""

    workers: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (contact_id, call_sid)


def _path(home: Path) -> Path:
    return home / "abandoned.tsv"


def remember(home: Path, campaign: str, *, worker: str, calls: Iterable[tuple[str, str]]) -> None:
    """Append a stopped worker of `campaign` and the (contact_id, call_sid) it hung up."""
    lines = [f"{campaign}\tworker\t{worker}\n"]
    lines += [f"{campaign}\tcall\t{contact_id}\t{sid}\n" for contact_id, sid in calls]
    home.mkdir(parents=True, exist_ok=True)
    with _path(home).open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.writelines(lines)


def take(home: Path, campaign: str) -> Abandoned:
    """Remove and return what was remembered for `campaign` (other campaigns' lines stay)."""
    found = Abandoned()
    path = _path(home)
    if not path.exists():
        return found
    with path.open("r+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        others: list[str] = []
        for line in file.read().splitlines():
            parts = line.split("\t")
            if parts[0] != campaign:
                others.append(line)
            elif parts[1:2] == ["worker"] and len(parts) == 3:
                found.workers.append(parts[2])
            elif parts[1:2] == ["call"] and len(parts) == 4:
                found.calls.append((parts[2], parts[3]))
            # anything else: a line torn by a crash mid-write
        file.seek(0)
        file.truncate()
        file.writelines(line + "\n" for line in others)
    return found
