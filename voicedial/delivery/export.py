"""`voicedial export`: a campaign's results as one table, one row per contact (state,
disposition, attempts, the profile's fields flattened), to CSV, JSON Lines or Parquet. Numbers
are never written: contacts appear by contact id, external id and phone_hash."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from voicedial.delivery.files import PROFILES_PREFIX
from voicedial.delivery.storage import Storage
from voicedial.errors import StorageError, UsageError
from voicedial.state.connect import RedisClient
from voicedial.state.store import CampaignStore

__all__ = ["EXPORT_FORMATS", "export_campaign"]

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
_PAGE = 500
_NUMBER = re.compile(r"\+\d{7,15}\b")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _NUMBER.sub("[number]", value)
    if isinstance(value, list | dict):
        return _NUMBER.sub("[number]", json.dumps(value, ensure_ascii=False))
    return value


_PROFILE_SKIP = frozenset(
    {"campaign", "contact_id", "external_id", "phone_hash", "disposition", "context"}
)


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'current_job': {'title': ...}} -> {'current_job.title': ...}; lists stay whole."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(_flatten(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


async def _contacts(store: CampaignStore) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    async for page in store.all_contacts():
        rows.extend(page)
    return rows


async def _profiles(storage: Storage, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    index = {}
    for key in await storage.list_keys(PROFILES_PREFIX):
        parts = key.split("/")
        if len(parts) == 5 and parts[3] in call_ids:
            index[parts[3]] = key
    gate = asyncio.Semaphore(16)

    async def read(key: str) -> Any:
        async with gate:
            return await storage.get_json(key)

    loaded = await asyncio.gather(*(read(k) for k in index.values()))
    return dict(zip(index, loaded, strict=True))


async def export_campaign(
    redis: RedisClient, storage: Storage, campaign: str, path: Path, fmt: str
) -> int:
    """Write one row per contact (state, disposition, attempts, the profile's fields flattened)
    to `path` as csv, jsonl or parquet; returns the number of rows. Numbers are never written:
    contacts appear by contact id, external id and phone_hash."""
    import pandas as pd

    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    store = CampaignStore(redis, campaign)
    if not await store.exists():
        raise UsageError(f"no campaign named {campaign!r}")
    contacts = await _contacts(store)
    calls = {c["last_call_sid"] for c in contacts if c.get("last_call_sid")}
    try:
        profiles = await _profiles(storage, calls)
    except StorageError as exc:
        raise StorageError(f"cannot read profiles for the export: {exc}") from exc
    rows = []
    for contact in sorted(contacts, key=lambda c: int(c.get("row") or 0)):
        call_id = contact.get("last_call_sid") or None
        row: dict[str, Any] = {
            "campaign": campaign,
            "contact_id": contact["contact_id"],
            "external_id": contact.get("external_id") or None,
            "contact_name": contact.get("name") or None,
            "phone_hash": contact.get("phone_hash"),
            "state": contact.get("state"),
            "disposition": contact.get("disposition") or None,
            "attempts": int(contact.get("attempts") or 0),
            "call_id": call_id,
        }
        for k, v in json.loads(contact.get("context") or "{}").items():
            row[f"context.{k}"] = v
        profile = profiles.get(call_id or "")
        if profile:
            row.update(
                _flatten(
                    {k: v for k, v in profile.items() if k not in _PROFILE_SKIP and k != "call_id"}
                )
            )
        rows.append({k: _scrub(v) for k, v in row.items()})
    frame = pd.DataFrame(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return len(frame)
