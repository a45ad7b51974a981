"""A campaign's state at a glance, read from Redis: what `voicedial status` prints and what the
live view renders. One snapshot is a handful of round trips, whatever the campaign's size."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from redis.asyncio import Redis

from voicedial.state import keys, records
from voicedial.state.keys import CampaignKeys
from voicedial.state.replies import text_map, texts
from voicedial.state.states import ACTIVE_STATES, ContactState

__all__ = ["SCHEMA_VERSION", "STATUS_SCHEMA", "campaign_names", "snapshot"]

SCHEMA_VERSION = 1
_SHOWN_CALLS = 8

_COUNT = {"type": "integer", "minimum": 0}
_MAYBE_INT = {"type": ["integer", "null"]}
# The stable schema of `voicedial status --json` (one campaign; all campaigns is a list of
# these). Fields may be added in a later version; none is removed or changes meaning.
STATUS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "voicedial campaign status",
    "type": "object",
    "required": [
        "schema_version",
        "campaign",
        "exists",
        "control",
        "states",
        "attempts",
        "contacts",
        "remaining",
        "done",
        "calls_placed",
        "pace",
        "concurrency",
        "due_now",
        "next_due_at",
        "outbox",
        "recent",
        "in_progress",
        "queue_time_ms",
        "eta_s",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "campaign": {"type": "string"},
        "exists": {"type": "boolean"},
        "control": {"enum": ["running", "paused", "cancelled"]},
        "provider": {"type": ["string", "null"]},
        "states": {"type": "object", "additionalProperties": _COUNT},
        "attempts": {"type": "object", "additionalProperties": _COUNT},
        "contacts": _COUNT,
        "remaining": _COUNT,
        "done": {"type": "boolean"},
        "calls_placed": _COUNT,
        "pace": {
            "type": "object",
            "required": ["target_cps", "cps_10s", "cps_60s"],
            "properties": {
                "target_cps": {"type": ["number", "null"]},
                "cps_10s": {"type": "number"},
                "cps_60s": {"type": "number"},
            },
        },
        "concurrency": {
            "type": "object",
            "required": ["active", "cap"],
            "properties": {"active": _COUNT, "cap": _MAYBE_INT},
        },
        "due_now": _COUNT,
        "next_due_at": _MAYBE_INT,
        "outbox": {
            "type": "object",
            "required": ["pending", "stored", "delivered", "dead"],
            "additionalProperties": _COUNT,
        },
        "recent": {"type": "array", "items": {"type": "object"}},
        "in_progress": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["contact", "state", "elapsed_s", "turns"],
                "properties": {
                    "contact": {"type": "string", "maxLength": 12},
                    "state": {"type": "string"},
                    "elapsed_s": _COUNT,
                    "turns": _COUNT,
                },
            },
        },
        "queue_time_ms": _MAYBE_INT,
        "eta_s": _MAYBE_INT,
    },
}


async def campaign_names(redis: Redis) -> list[str]:
    """Every campaign this Redis knows, sorted."""
    return sorted(texts(await redis.smembers(keys.CAMPAIGNS)))


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


async def _partition_reads(redis: Redis, k: CampaignKeys, now_ms: int) -> list[Any]:
    """One partition's share of the status, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(k.counts)
    pipe.hgetall(k.stats)
    pipe.zcount(k.inflight, now_ms, "+inf")
    pipe.zcount(k.dials, now_ms - 10_000, "+inf")
    pipe.zcount(k.dials, now_ms - 60_000, "+inf")
    pipe.zrange(k.due, 0, 0, withscores=True)
    pipe.zcount(k.due, "-inf", now_ms)
    pipe.lrange(k.recent, 0, 9)
    pipe.hlen(k.dead)
    pipe.zrange(k.inflight, 0, _SHOWN_CALLS - 1)
    return list(await pipe.execute())


async def snapshot(redis: Redis, name: str) -> dict[str, Any]:
    """The campaign's status, as the stable `status --json` schema (version 1): every
    partition's counts added up (each partition read in one round trip, all at once)."""
    k = CampaignKeys(name)
    now_ms = int(time.time() * 1000)
    meta_d = text_map(await redis.hgetall(k.meta))
    parts = [CampaignKeys(name, i) for i in range(int(meta_d.get("partitions") or 1))]
    reads = await asyncio.gather(*(_partition_reads(redis, part, now_ms) for part in parts))
    tallies: dict[str, int] = {}
    stats_d: dict[str, int] = {}
    active = last10 = last60 = due_now = dead = 0
    first_dues: list[float] = []
    recent: list[dict[str, Any]] = []
    live: list[tuple[CampaignKeys, str]] = []
    for part, (counts, stats, act, l10, l60, first, now_due, rec, dd, held) in zip(
        parts, reads, strict=True
    ):
        for key, value in _decode(counts).items():
            tallies[key] = tallies.get(key, 0) + int(value)
        for key, value in _decode(stats).items():
            if key == "queue_time_ms":  # a reading, not a total: the longest of them
                stats_d[key] = max(stats_d.get(key, 0), int(value))
            else:
                stats_d[key] = stats_d.get(key, 0) + int(value)
        active, last10, last60 = active + int(act), last10 + int(l10), last60 + int(l60)
        due_now, dead = due_now + int(now_due), dead + int(dd)
        first_dues += [score for _, score in first]
        recent += [json.loads(r) for r in rec]
        live += [(part, c.decode()) for c in held]
    # Each partition keeps its own last outcomes, newest first; merged by when they ended.
    recent.sort(key=lambda r: int(r.get("at") or 0), reverse=True)
    options = json.loads(meta_d.get("options", "{}"))
    states = {s: v for s, v in tallies.items() if v and not s.startswith("attempts:")}
    attempts = {s: tallies.get(f"attempts:{s}", 0) for s in states}
    pending = max(0, stats_d.get("events", 0) - stats_d.get("outbox_done", 0))
    remaining = sum(states.get(s, 0) for s in ACTIVE_STATES)
    in_progress = await _in_progress(redis, live[:_SHOWN_CALLS], now_ms)
    rate = last60 / 60 if last60 else float(options.get("cps") or 0)
    dialable = remaining - states.get(ContactState.WAITING_WINDOW, 0)
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": name,
        "exists": bool(meta_d),
        "control": meta_d.get("control", "running"),
        "provider": options.get("provider"),
        "states": states,
        "attempts": attempts,
        "contacts": sum(states.values()),
        "remaining": remaining,
        "done": bool(meta_d) and remaining == 0,
        "calls_placed": stats_d.get("calls_placed", 0),
        "pace": {
            "target_cps": options.get("cps"),
            "cps_10s": round(last10 / 10, 3),
            "cps_60s": round(last60 / 60, 3),
        },
        "concurrency": {"active": active, "cap": options.get("max_concurrent")},
        "due_now": due_now,
        "next_due_at": int(min(first_dues)) if first_dues else None,
        "outbox": {
            "pending": pending,
            "stored": stats_d.get("profiles_stored", 0),
            "delivered": stats_d.get("webhooks_delivered", 0),
            "dead": dead,
        },
        "recent": recent[:10],
        "in_progress": in_progress,
        "queue_time_ms": stats_d.get("queue_time_ms"),
        "eta_s": round(dialable / rate) if rate > 0 and dialable > 0 else None,
    }


async def _in_progress(
    redis: Redis, leased: list[tuple[CampaignKeys, str]], now_ms: int
) -> list[dict[str, Any]]:
    """The first few calls holding a lease: hashed contact, state, elapsed time, turns."""
    if not leased:
        return []
    wanted = [records.PACKED.encode(), b"phone_hash", b"state", b"last_call_sid", b"claimed_at"]
    pipe = redis.pipeline(transaction=False)
    for k, cid in leased:
        pipe.hmget(k.contact(cid), wanted)
    contacts = [
        records.unpack({f: v for f, v in zip(wanted, values, strict=True) if v})
        for values in await pipe.execute()
    ]
    pipe = redis.pipeline(transaction=False)
    for (k, _), contact in zip(leased, contacts, strict=True):
        pipe.hmget(k.call(contact.get("last_call_sid") or "-"), "answered_at", "turn")
    calls = await pipe.execute()
    out = []
    for contact, call in zip(contacts, calls, strict=True):
        started = int(call[0] or contact.get("claimed_at") or now_ms)
        out.append(
            {
                "contact": contact.get("phone_hash", "")[:12],
                "state": contact.get("state", ""),
                "elapsed_s": max(0, round((now_ms - started) / 1000)),
                "turns": max(0, int(call[1] or 1) - 1),
            }
        )
    return out
