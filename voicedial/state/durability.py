"""How a write that the dialler acts on (a claim, a placed call's record) is made durable
before it is acted on: the command sent after it on the same connection, if any.

- Redis 7.2+ has WAITAOF: wait until the write is in the local append-only file (when the
  server does not fsync every write itself) and in a replica's (when it has one).
- Older servers with a replica: WAIT until a replica has it, so a failover keeps it.
- Otherwise nothing can be waited for: the embedded server fsyncs every write
  (`appendfsync always`), and `doctor` warns about an external one that does not.
"""

from __future__ import annotations

__all__ = ["Command", "sync_command"]

Command = tuple[str | int, ...]


def _version(text: str) -> tuple[int, int]:
    parts = [*text.split("."), "0", "0"][:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return 0, 0


def sync_command(
    *, version: str, aof: bool, appendfsync: str | None, replicas: int, timeout_ms: int
) -> Command | None:
    """The command to send after an intent write, or None. `appendfsync` is None when the
    server does not say (managed servers refuse CONFIG): assumed not `always`."""
    local = aof and appendfsync != "always"
    if _version(version) >= (7, 2) and (local or replicas):
        return ("WAITAOF", int(local), min(replicas, 1), timeout_ms)
    if replicas:
        return ("WAIT", 1, timeout_ms)
    return None
