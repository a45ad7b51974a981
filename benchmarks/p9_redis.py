"""P9: what a campaign costs Redis. Memory per imported contact, and Redis commands and round
trips per finished call of an interviewing campaign.

Memory is the server's `used_memory` after an import less before it, on a fresh embedded
server (its own keys dictionary and every structure counted), divided by the contacts added;
the server is left to settle first (no AOF rewrite running, nothing waiting to be freed).

Commands are the server's `commandstats` (a Lua script's own commands included) over the run;
round trips are the requests the run's redis-py connections wrote (one per command, pipeline or
auto-pipelined batch), counted by wrapping `send_packed_command` for the run: instrumentation
of the client library, nothing of ours replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

from benchmarks.campaigns import campaign, numbers
from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.data import write_contact_csv
from voicedial.campaign.importer import import_csv
from voicedial.state.store import CampaignStore

__all__ = ["counted_sends", "run"]

_KEY = b"p9-phone-hash-key"


async def _settled_memory(client: aioredis.Redis) -> int:
    for _ in range(3000):
        persistence = await client.info("persistence")
        memory = await client.info("memory")
        if not persistence.get("aof_rewrite_in_progress") and not memory.get(
            "lazyfree_pending_objects"
        ):
            return int(memory["used_memory"])
        await asyncio.sleep(0.01)
    raise RuntimeError("Redis never settled")


async def _memory(url: str, home: Path, rows: int) -> dict[str, Any]:
    path = write_contact_csv(home / "contacts.csv", rows)
    client = aioredis.from_url(url, socket_timeout=30)
    try:
        before = await _settled_memory(client)
        store = CampaignStore(client, "p9")
        summary = await import_csv(
            store, path, region="US", hash_key=_KEY, dnc=set(), rejects_dir=home / "rejects"
        )
        after = await _settled_memory(client)
        return {"added": summary.added, "bytes": after - before}
    finally:
        await client.aclose()


@contextlib.contextmanager
def counted_sends() -> Iterator[list[int]]:
    """Count redis-py's request writes (round trips) while inside."""
    sent = [0]
    original = AbstractConnection.send_packed_command

    async def counting(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        sent[0] += 1
        await original(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


async def _commands(url: str) -> int:
    client = aioredis.from_url(url)
    stats = await client.info("commandstats")
    await client.aclose()
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def _calls(url: str, home: Path, count: int) -> dict[str, Any]:
    people = numbers(count)
    asyncio.run(_reset(url))
    cpu = time.process_time()
    with counted_sends() as sent:
        _, wall, states = asyncio.run(
            campaign(home, url, people, cps=20, speed=40, answer="generated", max_concurrent=40)
        )
    cpu = time.process_time() - cpu
    finished = sum(v for k, v in states.items() if k not in ("pending", "dialling", "in_call"))
    return {
        "finished": finished,
        "completed": states.get("completed", 0),
        "commands": asyncio.run(_commands(url)),
        "round_trips": sent[0],
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 2),
        "states": states,
    }


async def _reset(url: str) -> None:
    client = aioredis.from_url(url)
    await client.config_resetstat()
    await client.aclose()


def run(rows: int = 180_000, calls: int = 120) -> list[Result]:
    with scratch("p9m") as home, fresh_redis(home / "redis") as url:
        memory = asyncio.run(_memory(url, home, rows))
    with scratch("p9c") as home, fresh_redis(home / "redis") as url:
        used = _calls(url, home, calls)
    per_contact = memory["bytes"] / max(1, memory["added"])
    finished = max(1, used["finished"])
    return [
        Result(
            id="P9",
            what=f"Redis memory per imported contact ({memory['added']:,} contacts)",
            figure=round(per_contact, 1),
            unit="B",
            target="<= 150 B",
            passed=per_contact <= 150,
            details=memory,
        ),
        Result(
            id="P9",
            what=f"Redis commands / round trips per finished call ({used['finished']} calls)",
            figure=round(used["commands"] / finished, 1),
            unit="commands",
            target="reported",
            passed=used["finished"] == calls,
            details={**used, "round_trips_per_call": round(used["round_trips"] / finished, 1)},
        ),
    ]
