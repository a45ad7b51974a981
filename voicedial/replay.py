"""After the calls: `replay-outbox` (send webhook events again) and `export` (a campaign's
results as one table).

Replay works beside running campaigns: it reads the dead-letter hash and the outbox stream's
history but never consumes from the delivery group, and it removes a dead letter only after a
2xx. Re-sent events keep their `webhook-id`, so receivers can drop duplicates.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from .audit import Audit
from .errors import StorageError, UsageError
from .keys import CampaignKeys
from .outbox import PROFILE_EVENT, dead_letter_record
from .status import campaign_names
from .storage import Storage
from .webhooks import WebhookRefused, WebhookSender, check_webhook_url

__all__ = ["EXPORT_FORMATS", "ReplayItem", "ReplayRequest", "ReplaySummary", "export_campaign",
           "replay_outbox"]

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
_PAGE = 500
_NUMBER = re.compile(r"\+\d{7,15}\b")


@dataclass(frozen=True)
class ReplayRequest:
    """Which events to send again, and where."""

    campaigns: tuple[str, ...] = ()  # empty: every campaign
    event_ids: tuple[str, ...] = ()  # call ids (or webhook ids, msg_<call id>)
    since: datetime | None = None
    all_events: bool = False  # every event in the outbox's history, not only dead letters
    webhook_url: str | None = None  # send here instead of each event's own URL
    default_url: str | None = None  # for events that never had a URL (VOICEDIAL_WEBHOOK_URL)
    dry_run: bool = False


@dataclass(frozen=True)
class ReplayItem:
    """What became of one event: delivered, failed, refused, skipped or (dry run) would_send."""

    campaign: str
    event_id: str
    url: str | None
    outcome: str
    error: str = ""
    was_dead: bool = False


@dataclass
class ReplaySummary:
    """Every event replay looked at, in order."""

    items: list[ReplayItem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Events per outcome."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """True when nothing failed or was refused."""
        return not ({"failed", "refused"} & set(self.counts))


@dataclass
class _Candidate:
    campaign: str
    event: dict[str, Any]
    dead: bool
    at: datetime | None

    @property
    def id(self) -> str:
        return str(self.event["call_id"])


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _event_time(event: dict[str, Any]) -> datetime | None:
    return _parse_time(((event.get("profile") or {}).get("call") or {}).get("ended_at"))


def _stream_ms(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


async def _history(redis: Redis, keys: CampaignKeys, since: datetime | None,
                   ) -> dict[str, _Candidate]:
    """Every event in the outbox stream (latest entry per call), from `since` on."""
    start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
    found: dict[str, _Candidate] = {}
    while True:
        page = await redis.xrange(keys.outbox, min=start, max="+", count=_PAGE)
        for entry_id, fields in page:
            if not fields or b"event" not in fields:
                continue
            event = json.loads(fields[b"event"])
            if event.get("type") != PROFILE_EVENT:
                continue  # a call settled without a profile: nothing to deliver
            event.pop("transcript", None)
            at = _event_time(event) or datetime.fromtimestamp(_stream_ms(entry_id) / 1000, UTC)
            found[str(event["call_id"])] = _Candidate(keys.name, event, False, at)
        if len(page) < _PAGE:
            return found
        start = "(" + page[-1][0].decode()


async def _select(redis: Redis, request: ReplayRequest) -> list[_Candidate]:
    names = list(request.campaigns) or await campaign_names(redis)
    wanted = {i.removeprefix("msg_") for i in request.event_ids}
    chosen: list[_Candidate] = []
    for name in names:
        keys = CampaignKeys(name)
        dead: dict[str, _Candidate] = {}
        for raw_id, raw in (await redis.hgetall(keys.dead)).items():
            record = json.loads(raw)
            at = _event_time(record["event"]) or _parse_time(record.get("dead_at"))
            dead[raw_id.decode()] = _Candidate(name, record["event"], True, at)
        picked = dict(dead)
        if request.all_events or (wanted and not wanted <= set(dead)):
            history = await _history(redis, keys, None if wanted else request.since)
            picked = {**history, **dead}
        for cid, candidate in picked.items():
            if wanted and cid not in wanted:
                continue
            if request.since and not wanted and (candidate.at is None
                                                 or candidate.at < request.since):
                continue
            chosen.append(candidate)
    chosen.sort(key=lambda c: (c.at or datetime.min.replace(tzinfo=UTC), c.id))
    return chosen


async def replay_outbox(redis: Redis, sender: WebhookSender, request: ReplayRequest, *,
                        storage: Storage | None = None,
                        on_selected: Callable[[int], None] | None = None,
                        on_item: Callable[[ReplayItem], None] | None = None) -> ReplaySummary:
    """Send the chosen events again, one attempt each; a delivered dead letter is removed (and
    counted as delivered), a failed one keeps its place with the new error. With `storage`, each
    delivery is written to the audit trail."""
    candidates = await _select(redis, request)
    if request.event_ids and not candidates:
        raise UsageError(f"no event {', '.join(request.event_ids)} in the outbox or dead letters")
    if on_selected is not None:
        on_selected(len(candidates))
    audits: dict[str, Audit] = {}
    summary = ReplaySummary()
    for candidate in candidates:
        item = await _replay_one(redis, sender, request, candidate)
        if storage is not None and item.outcome == "delivered":
            audit = audits.setdefault(candidate.campaign, Audit(
                storage, campaign=candidate.campaign, worker="replay"))
            audit.record("webhook_replayed", call_id=candidate.id,
                         contact_id=candidate.event.get("contact_id"),
                         phone_hash=(candidate.event.get("profile") or {}).get("phone_hash"),
                         was_dead=candidate.dead)
        summary.items.append(item)
        if on_item is not None:
            on_item(item)
    for audit in audits.values():
        await audit.flush()
    return summary


async def _replay_one(redis: Redis, sender: WebhookSender, request: ReplayRequest,
                      candidate: _Candidate) -> ReplayItem:
    event = candidate.event
    url = request.webhook_url or event.get("webhook_url") or request.default_url

    def item(outcome: str, error: str = "") -> ReplayItem:
        return ReplayItem(candidate.campaign, candidate.id, url, outcome, error, candidate.dead)

    if not url:
        return item("skipped", "no webhook URL (pass --webhook-url)")
    if request.dry_run:
        try:
            await check_webhook_url(url, allow_private=sender.allow_private,
                                    resolver=sender.resolver)
        except WebhookRefused as exc:
            return item("refused", str(exc))
        return item("would_send")
    result = await sender.send(url, event)
    keys = CampaignKeys(candidate.campaign)
    if result.ok:
        pipe = redis.pipeline(transaction=True)
        if candidate.dead:
            pipe.hdel(keys.dead, candidate.id)
        pipe.hincrby(keys.stats, "webhooks_delivered", 1)
        await asyncio.shield(pipe.execute())
        return item("delivered")
    if candidate.dead:
        record = dead_letter_record(event, error=result.error, attempts=0, status=result.status,
                                    url=url)
        raw = await redis.hget(keys.dead, candidate.id)
        if raw is not None:  # still dead (not delivered meanwhile by another replay)
            record["attempts"] = int(json.loads(raw).get("attempts") or 0) + 1
            await redis.hset(keys.dead, candidate.id, json.dumps(record, ensure_ascii=False))
    return item("refused" if result.permanent else "failed", result.error)


# -- export -----------------------------------------------------------------------------------
def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _NUMBER.sub("[number]", value)
    if isinstance(value, list | dict):
        return _NUMBER.sub("[number]", json.dumps(value, ensure_ascii=False))
    return value


_PROFILE_SKIP = frozenset({"campaign", "contact_id", "external_id", "phone_hash", "disposition",
                           "context"})


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'current_job': {'title': ...}} -> {'current_job.title': ...}; lists stay whole."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(_flatten(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


async def _contacts(redis: Redis, keys: CampaignKeys) -> list[dict[str, str]]:
    ids = [k async for k in redis.scan_iter(match=_glob_escape(keys.contact_prefix) + "*",
                                            count=1000)]
    rows: list[dict[str, str]] = []
    for start in range(0, len(ids), _PAGE):
        pipe = redis.pipeline(transaction=False)
        chunk = ids[start:start + _PAGE]
        for key in chunk:
            pipe.hgetall(key)
        for key, raw in zip(chunk, await pipe.execute(), strict=True):
            row = {k.decode(): v.decode() for k, v in raw.items()}
            row["contact_id"] = key.decode().removeprefix(keys.contact_prefix)
            rows.append(row)
    return rows


async def _profiles(storage: Storage, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    index = {}
    for key in await storage.list_keys("calls/profiles/"):
        parts = key.split("/")
        if len(parts) == 5 and parts[3] in call_ids:
            index[parts[3]] = key
    gate = asyncio.Semaphore(16)

    async def read(key: str) -> Any:
        async with gate:
            return await storage.get_json(key)

    loaded = await asyncio.gather(*(read(k) for k in index.values()))
    return dict(zip(index, loaded, strict=True))


async def export_campaign(redis: Redis, storage: Storage, campaign: str, path: Path,
                          fmt: str) -> int:
    """Write one row per contact (state, disposition, attempts, the profile's fields flattened)
    to `path` as csv, jsonl or parquet; returns the number of rows. Numbers are never written:
    contacts appear by contact id, external id and phone_hash."""
    import pandas as pd

    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    keys = CampaignKeys(campaign)
    if not await redis.exists(keys.meta):
        raise UsageError(f"no campaign named {campaign!r}")
    contacts = await _contacts(redis, keys)
    calls = {c["last_call_sid"] for c in contacts if c.get("last_call_sid")}
    try:
        profiles = await _profiles(storage, calls)
    except StorageError as exc:
        raise StorageError(f"cannot read profiles for the export: {exc}") from exc
    rows = []
    for contact in sorted(contacts, key=lambda c: int(c.get("row") or 0)):
        call_id = contact.get("last_call_sid") or None
        row: dict[str, Any] = {
            "campaign": campaign, "contact_id": contact["contact_id"],
            "external_id": contact.get("external_id") or None,
            "contact_name": contact.get("name") or None,
            "phone_hash": contact.get("phone_hash"), "state": contact.get("state"),
            "disposition": contact.get("disposition") or None,
            "attempts": int(contact.get("attempts") or 0), "call_id": call_id,
        }
        for k, v in json.loads(contact.get("context") or "{}").items():
            row[f"context.{k}"] = v
        profile = profiles.get(call_id or "")
        if profile:
            row.update(_flatten({k: v for k, v in profile.items()
                                 if k not in _PROFILE_SKIP and k != "call_id"}))
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
