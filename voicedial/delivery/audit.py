"""The audit trail: what happened to every contact, as JSON Lines under
`audit/{YYYY-MM-DD}/` in object storage.

S3 has no append, so records are buffered in memory and written as batch objects, one per flush
and day: `audit/2026-11-25/{campaign}-{worker}-{timestamp}-{seq}.jsonl`. The same layout serves
`file://`, so there is one code path. Records carry `phone_hash`, never a number: fields that name
a number are refused, and anything shaped like an E.164 number in a value is masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from voicedial.contacts.phones import mask_numbers
from voicedial.delivery.storage import Storage
from voicedial.errors import StorageError

__all__ = ["AUDIT_EVENTS", "Audit", "audit_key"]

log = logging.getLogger("voicedial.delivery.audit")

AUDIT_EVENTS = frozenset(
    {
        "call_placed",
        "call_not_placed",
        "call_skipped",
        "call_settled",
        "consent_given",
        "consent_declined",
        "opted_out",
        "interrupted_by_operator",
        "profile_stored",
        "webhook_delivered",
        "webhook_dead_lettered",
        "webhook_replayed",
        "contacts_imported",
    }
)
_FORBIDDEN_FIELDS = frozenset({"e164", "phone", "number", "to", "from", "phone_number"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def audit_key(day: str, campaign: str, worker: str, stamp: str, seq: int) -> str:
    """The object key of one batch of audit records."""
    name = _SAFE_NAME.sub("_", f"{campaign}-{worker}")
    return f"audit/{day}/{name}-{stamp}-{seq:04d}.jsonl"


class Audit:
    """Buffers audit records and writes them in batches. `record()` never blocks and never
    raises for storage problems: a failed flush keeps its records for the next one."""

    def __init__(
        self,
        storage: Storage,
        *,
        campaign: str,
        worker: str,
        max_buffer: int = 100_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.campaign = campaign
        self.worker = worker
        self.max_buffer = max_buffer
        self.clock = clock
        self._buffer: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = asyncio.Lock()

    def record(self, event: str, **fields: Any) -> None:
        """Queue one record: `event` (one of AUDIT_EVENTS) plus fields such as call_id,
        contact_id, phone_hash, reason. Raises ValueError for a field that names a number."""
        if event not in AUDIT_EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        named = _FORBIDDEN_FIELDS.intersection(fields)
        if named:
            raise ValueError(f"audit records carry phone_hash, never {sorted(named)}")
        now = self.clock()
        row = {
            "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "campaign": fields.pop("campaign", None) or self.campaign,
            "worker": self.worker,
            **_mask(fields),
        }
        if len(self._buffer) >= self.max_buffer:
            log.warning("audit buffer full (%d): dropping the oldest record", self.max_buffer)
            del self._buffer[0]
        self._buffer.append(row)

    @property
    def buffered(self) -> int:
        """Records waiting for the next flush."""
        return len(self._buffer)

    async def flush(self) -> int:
        """Write what is buffered, one object per day; returns how many records were written.
        On a storage error the unwritten records stay buffered (logged, not raised)."""
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            by_day: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_day.setdefault(row["ts"][:10], []).append(row)
            stamp = self.clock().strftime("%Y%m%dT%H%M%S%fZ")
            written = 0
            failed: list[dict[str, Any]] = []
            for day, batch in by_day.items():
                self._seq += 1
                body = "".join(
                    json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in batch
                ).encode()
                key = audit_key(day, self.campaign, self.worker, stamp, self._seq)
                try:
                    await self.storage.put_bytes(key, body, "application/x-ndjson")
                except StorageError as exc:
                    log.warning("audit batch of %d record(s) not written yet: %s", len(batch), exc)
                    failed.extend(batch)
                    continue
                written += len(batch)
            self._buffer[:0] = failed
            return written

    async def run(self, stop: asyncio.Event, *, interval_s: float = 5.0) -> None:
        """Flush every `interval_s` until `stop` is set, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            await asyncio.shield(self.flush())
