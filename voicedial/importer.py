"""Importing a contact list into a campaign: read and normalise (contacts.py), check the shared
do-not-call set, add what is new, write rejects with reasons."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .contacts import Contact, Reject, RejectsWriter, read_contacts
from .keys import DNC
from .store import CampaignStore

__all__ = ["ImportSummary", "import_csv"]

_DNC_IN_MEMORY = 1_000_000


@dataclass
class ImportSummary:
    """What an import did."""

    rows: int = 0
    added: int = 0
    existing: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rejects_path: Path | None = None
    seconds: float = 0.0


def _reason_kind(reason: str) -> str:
    return reason.split(" of row")[0].split(":")[0]


async def import_csv(store: CampaignStore, path: Path, *, region: str, hash_key: bytes,
                     dnc: set[str], rejects_dir: Path, dry_run: bool = False,
                     progress: Callable[[ImportSummary], None] | None = None) -> ImportSummary:
    """Stream `path` into the campaign; rejects go to a CSV under `rejects_dir`."""
    started = time.perf_counter()
    summary = ImportSummary()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    rejects_path = rejects_dir / f"{store.name}-{stamp}-rejects.csv"
    # The shared do-not-call set is read once when it is of a size that fits comfortably in
    # memory; a huge one is asked about batch by batch instead.
    shared: set[str] | None = None
    if await store.redis.scard(DNC) <= _DNC_IN_MEMORY:
        shared = {m.decode() for m in await store.redis.smembers(DNC)}
    with RejectsWriter(rejects_path) as writer:
        for batch in read_contacts(path, region=region, hash_key=hash_key, dnc=dnc):
            summary.rows += batch.rows_read
            kept: list[Contact] = []
            if shared is not None:
                flags = [c.phone_hash in shared for c in batch.contacts]
            else:
                flags = await store.dnc_members([c.phone_hash for c in batch.contacts])
            rejects: list[Reject] = list(batch.rejects)
            for contact, on_dnc in zip(batch.contacts, flags, strict=True):
                if on_dnc:
                    rejects.append(Reject(row=contact.row, raw_phone=contact.e164,
                                          reason="do not call"))
                else:
                    kept.append(contact)
            writer.write(rejects)
            for reject in rejects:
                kind = _reason_kind(reject.reason)
                summary.reasons[kind] = summary.reasons.get(kind, 0) + 1
            summary.rejected += len(rejects)
            if dry_run:
                summary.added += len(kept)
            else:
                added, existing = await store.import_contacts(kept)
                summary.added += added
                summary.existing += existing
            if progress:
                progress(summary)
    summary.rejects_path = rejects_path if summary.rejected else None
    if not summary.rejected:
        rejects_path.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary
