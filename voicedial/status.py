"""A campaign's state at a glance, read from Redis: what `voicedial status` prints and what the
live view renders. One snapshot is a handful of round trips, whatever the campaign's size."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from . import keys
from .keys import ACTIVE_STATES, CampaignKeys
from .outbox import outbox_pending

__all__ = ["SCHEMA_VERSION", "campaign_names", "snapshot"]

SCHEMA_VERSION = 1


async def campaign_names(redis: Redis) -> list[str]:
    """Every campaign this Redis knows, sorted."""
    return sorted(n.decode() for n in await redis.smembers(keys.CAMPAIGNS))


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


async def snapshot(redis: Redis, name: str) -> dict[str, Any]:
    """The campaign's status, as the stable `status --json` schema (version 1)."""
    k = CampaignKeys(name)
    now_ms = int(time.time() * 1000)
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(k.meta)
    pipe.hgetall(k.counts)
    pipe.hgetall(k.stats)
    pipe.zcount(k.inflight, now_ms, "+inf")
    pipe.zcount(k.dials, now_ms - 10_000, "+inf")
    pipe.zcount(k.dials, now_ms - 60_000, "+inf")
    pipe.zrange(k.due, 0, 0, withscores=True)
    pipe.zcount(k.due, "-inf", now_ms)
    pipe.lrange(k.recent, 0, 9)
    pipe.hlen(k.dead)
    meta, counts, stats, active, last10, last60, first_due, due_now, recent, dead = \
        await pipe.execute()
    meta_d = _decode(meta)
    options = json.loads(meta_d.get("options", "{}"))
    states = {s: int(v) for s, v in _decode(counts).items() if int(v)}
    stats_d = {s: int(v) for s, v in _decode(stats).items()}
    pending = await outbox_pending(redis, k)
    remaining = sum(states.get(s, 0) for s in ACTIVE_STATES)
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": name,
        "exists": bool(meta_d),
        "control": meta_d.get("control", "running"),
        "provider": options.get("provider"),
        "states": states,
        "contacts": sum(states.values()),
        "remaining": remaining,
        "done": bool(meta_d) and remaining == 0,
        "calls_placed": stats_d.get("calls_placed", 0),
        "pace": {
            "target_cps": options.get("cps"),
            "cps_10s": round(last10 / 10, 3),
            "cps_60s": round(last60 / 60, 3),
        },
        "concurrency": {"active": int(active), "cap": options.get("max_concurrent")},
        "due_now": int(due_now),
        "next_due_at": int(first_due[0][1]) if first_due else None,
        "outbox": {"pending": pending, "stored": stats_d.get("profiles_stored", 0),
                   "delivered": stats_d.get("webhooks_delivered", 0), "dead": int(dead)},
        "recent": [json.loads(r) for r in recent],
    }
