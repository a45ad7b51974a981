"""`voicedial replay-outbox` and `voicedial export` through Typer's CliRunner (run in a thread:
the command owns its own event loop, while the receiver serves in the test's)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner, Result

from tests.test_delivery import SECRET, Receiver, make_event
from voicedial.cli.app import app
from voicedial.delivery.events import DeadLetter, OutboxEvent
from voicedial.delivery.files import store_event
from voicedial.delivery.storage import FileStorage
from voicedial.http import running_server
from voicedial.state.keys import CAMPAIGNS, CampaignKeys

NUMBERS = ("+12015550101", "+13125550102", "+13035550103")


@pytest.fixture
async def redis(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[aioredis.Redis]:
    """Redis plus the settings the commands read."""
    monkeypatch.setenv("VOICEDIAL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VOICEDIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOICEDIAL_STORAGE_URL", f"file://{tmp_path / 'data'}")
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def cli(*args: str) -> Result:
    """Run a voicedial command in a worker thread."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def dead_letters(
    redis: aioredis.Redis,
    campaign: str,
    events: list[dict[str, Any]],
) -> None:
    keys = CampaignKeys(campaign)
    await redis.sadd(CAMPAIGNS, campaign)
    for event in events:
        record = DeadLetter.of(
            OutboxEvent.model_validate(event), error="HTTP 503", attempts=7, status=503
        )
        await redis.hset(keys.dead, event["call_id"], record.to_json())


async def test_replays_dead_letters_of_one_campaign(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS", "true")
    receiver = Receiver()
    async with running_server(receiver.app) as base:
        a = [make_event(n, f"{base}/hook", campaign="a") for n in range(2)]
        b = [make_event(9, f"{base}/hook", campaign="b")]
        await dead_letters(redis, "a", a)
        await dead_letters(redis, "b", b)
        dry = await cli("replay-outbox", "--campaign", "a", "--dry-run")
        assert receiver.attempts == []
        result = await cli("replay-outbox", "--campaign", "a")
    assert dry.exit_code == 0 and "2 would_send" in dry.output
    assert result.exit_code == 0, result.output
    assert "replay-outbox: 2 delivered" in result.output
    assert sorted(receiver.delivered) == sorted(f"msg_{e['call_id']}" for e in a)
    assert await redis.hlen(CampaignKeys("a").dead) == 0
    assert await redis.hlen(CampaignKeys("b").dead) == 1
    assert await redis.hget(CampaignKeys("a").stats, "webhooks_delivered") == b"2"
    audit = "".join(p.read_text() for p in Path("data/audit").rglob("*.jsonl"))
    assert audit.count("webhook_replayed") == 2


async def test_one_event_elsewhere_history_and_since(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS", "true")
    receiver = Receiver()
    async with running_server(receiver.app) as base:
        old, new = make_event(1, "https://gone.example/x"), make_event(2, f"{base}/hook")
        now = datetime.now(UTC)
        old["profile"]["call"]["ended_at"] = (now - timedelta(days=3)).isoformat()
        new["profile"]["call"]["ended_at"] = (now - timedelta(minutes=1)).isoformat()
        keys = CampaignKeys("deliv")
        await redis.sadd(CAMPAIGNS, "deliv")
        for event in (old, new):  # delivered long ago: only in the outbox's history
            await redis.xadd(keys.outbox, {"event": json.dumps(event)})
        one = await cli(
            "replay-outbox", "--event", f"msg_{old['call_id']}", "--webhook-url", f"{base}/hook"
        )
        since = await cli("replay-outbox", "--all", "--since", "1h")
        missing = await cli("replay-outbox", "--event", "CAnope")
    assert one.exit_code == 0 and "1 delivered" in one.output
    assert since.exit_code == 0 and "1 delivered" in since.output
    assert [m for m, _ in receiver.attempts] == [f"msg_{old['call_id']}", f"msg_{new['call_id']}"]
    assert missing.exit_code == 2 and "no event CAnope" in missing.output


async def test_unreadable_since_is_one_line_and_exit_2(redis: aioredis.Redis) -> None:
    result = await cli("replay-outbox", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "--since 'last tuesday'" in result.output and "Traceback" not in result.output


async def test_private_target_is_refused_and_reported(redis: aioredis.Redis) -> None:
    receiver = Receiver()
    async with running_server(receiver.app) as base:
        await dead_letters(redis, "deliv", [make_event(0, f"{base}/hook")])
        result = await cli("replay-outbox")
    assert result.exit_code == 75
    assert "refused" in result.output and "non-public" in result.output
    assert receiver.attempts == []
    record = json.loads(
        await redis.hget(CampaignKeys("deliv").dead, make_event(0, None)["call_id"])
    )
    assert "non-public" in record["error"] and record["attempts"] == 8


async def test_export_one_row_per_contact_without_numbers(
    redis: aioredis.Redis, tmp_path: Path
) -> None:
    keys = CampaignKeys("deliv")
    await redis.hset(keys.meta, mapping={"options": "{}"})
    storage = FileStorage(tmp_path / "data")
    states = [("completed", "completed"), ("no_answer", "no_answer"), ("pending", "")]
    for n, (number, (state, disposition)) in enumerate(zip(NUMBERS, states, strict=True)):
        event = make_event(n, None)
        await redis.hset(
            keys.contact(f"k{n}"),
            mapping={
                "e164": number,
                "phone_hash": f"{n:064x}",
                "external_id": f"X{n}",
                "name": f"Person {n}",
                "context": json.dumps({"team": "north"}),
                "row": n + 2,
                "state": state,
                "disposition": disposition,
                "attempts": 1 if n < 2 else 0,
                "last_call_sid": event["call_id"] if n < 2 else "",
            },
        )
        if n == 0:
            await store_event(storage, OutboxEvent.model_validate(event))
    for fmt in ("csv", "jsonl", "parquet"):
        result = await cli("export", "deliv", "--format", fmt, "-o", f"out.{fmt}")
        assert result.exit_code == 0, result.output
    frames = [
        pd.read_csv("out.csv"),
        pd.read_json("out.jsonl", lines=True),
        pd.read_parquet("out.parquet"),
    ]
    for frame in frames:
        assert list(frame["contact_id"]) == ["k0", "k1", "k2"]
        assert list(frame["state"]) == ["completed", "no_answer", "pending"]
        assert frame.loc[0, "current_job.title"] == "Welder"
        assert json.loads(frame.loc[0, "skills"]) == ["welding"]
        assert frame.loc[0, "context.team"] == "north"
        assert "e164" not in frame.columns
    for path in ("out.csv", "out.jsonl", "out.parquet"):
        data = Path(path).read_bytes()
        assert not any(n.encode() in data or n[2:].encode() in data for n in NUMBERS)
    missing = await cli("export", "nope", "-o", "x.csv")
    assert missing.exit_code == 2 and "no campaign named 'nope'" in missing.output
