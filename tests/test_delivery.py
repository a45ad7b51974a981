"""The outbox with real parts: the embedded Redis, file storage, and a Starlette receiver over
HTTP that checks every delivery with `standardwebhooks.Webhook(secret).verify`. Events are
queued exactly as `finish.lua` queues them (XADD field `event`)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from voicedial.delivery.audit import Audit
from voicedial.delivery.outbox import Outbox
from voicedial.delivery.replay import ReplayRequest, replay_outbox
from voicedial.delivery.storage import FileStorage, Storage
from voicedial.delivery.webhooks import RetrySchedule, WebhookSender
from voicedial.http import running_server
from voicedial.state.keys import CAMPAIGNS, OUTBOX_GROUP, CampaignKeys
from voicedial.state.outbox import OutboxQueue
from voicedial.state.snapshot import snapshot

SECRET = "whsec_" + base64.b64encode(b"voicedial-test-secret-0123456789").decode()
FAST = RetrySchedule(delays_s=(0, 0.05, 0.05, 0.05, 0.05), jitter=0.1)


class Receiver:
    """A customer endpoint: verifies each request, fails the first `fail_first` attempts of
    every event (with `status` and an optional Retry-After), and may hold requests open."""

    def __init__(
        self, *, fail_first: int = 0, status: int = 503, retry_after: str | None = None
    ) -> None:
        self.verifier = Webhook(SECRET)
        self.fail_first = fail_first
        self.status = status
        self.retry_after = retry_after
        self.attempts: list[tuple[str, float]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.successes: list[str] = []
        self.forged = 0
        self.arrived = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = self.verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.forged += 1
            return Response(status_code=400)
        msg = request.headers["webhook-id"]
        earlier = sum(1 for m, _ in self.attempts if m == msg)
        self.attempts.append((msg, time.monotonic()))
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        if earlier < self.fail_first:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return Response(status_code=self.status, headers=headers)
        self.successes.append(msg)
        self.delivered.setdefault(msg, payload)
        return Response(status_code=204)

    def tries(self, msg: str) -> list[float]:
        """When each attempt of one event arrived."""
        return [t for m, t in self.attempts if m == msg]

    async def wait_delivered(self, count: int, timeout: float = 10.0) -> None:
        """Deadline poll until `count` distinct events were delivered."""
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered)} of {count} delivered")
            await asyncio.sleep(0.01)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's (flushed) Redis."""
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


def make_event(n: int, url: str | None, campaign: str = "deliv") -> dict[str, Any]:
    """A profile event shaped like the one `outcomes.settle_call` builds."""
    call_id = f"CA{n:032x}"
    profile = {
        "schema_version": 1,
        "campaign": campaign,
        "call_id": call_id,
        "contact_id": f"k{n}",
        "external_id": f"X{n}",
        "phone_hash": f"{n:064x}",
        "consent_given": True,
        "disposition": "completed",
        "name": "Jo Test",
        "current_job": {"title": "Welder", "company": "Acme", "start_year": 2018},
        "skills": ["welding"],
        "call": {"ended_at": "2026-11-25T10:00:00Z"},
    }
    return {
        "type": "worker_profile.completed",
        "campaign": campaign,
        "call_id": call_id,
        "contact_id": f"k{n}",
        "external_id": f"X{n}",
        "webhook_url": url,
        "profile": profile,
        "transcript": {"call_id": call_id, "turns": []},
    }


async def enqueue(
    redis: aioredis.Redis, events: list[dict[str, Any]], campaign: str = "deliv"
) -> None:
    """Queue events as finish.lua does (the entry, and one more in `stats.events`)."""
    keys = CampaignKeys(campaign)
    await redis.sadd(CAMPAIGNS, campaign)  # as `campaign run` registers it
    for event in events:
        pipe = redis.pipeline(transaction=True)
        pipe.xadd(keys.outbox, {"event": json.dumps(event)})
        pipe.hincrby(keys.stats, "events", 1)
        await pipe.execute()


OutboxFactory = Callable[..., Outbox]


@pytest.fixture
async def outbox_for(redis: aioredis.Redis) -> AsyncIterator[OutboxFactory]:
    """Make outboxes (one consumer each) of campaign `deliv`; their HTTP clients are closed
    at the end."""
    made: list[WebhookSender] = []

    def make(
        storage: Storage,
        *,
        consumer: str = "w1",
        schedule: RetrySchedule = FAST,
        allow_private: bool = True,
        audit: Audit | None = None,
    ) -> Outbox:
        sender = WebhookSender(
            secret=SECRET, allow_private=allow_private, schedule=schedule, timeout_s=5
        )
        made.append(sender)
        return Outbox(
            queue=OutboxQueue(redis, "deliv"),
            storage=storage,
            consumer=consumer,
            sender=sender,
            audit=audit,
        )

    yield make
    for sender in made:
        await sender.aclose()


async def test_every_event_stored_and_delivered_signed(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    storage = FileStorage(tmp_path / "data")
    audit = Audit(storage, campaign="deliv", worker="w1")
    receiver = Receiver()
    async with running_server(receiver.app) as base:
        events = [make_event(n, f"{base}/hook") for n in range(5)]
        await enqueue(redis, events)
        outbox = outbox_for(storage, audit=audit)
        assert await outbox.drain(10) == 0
    assert sorted(receiver.delivered) == sorted(f"msg_{e['call_id']}" for e in events)
    assert receiver.forged == 0 and len(receiver.attempts) == 5
    body = receiver.delivered[f"msg_{events[0]['call_id']}"]
    assert body["type"] == "worker_profile.completed"
    assert body["timestamp"] == "2026-11-25T10:00:00Z"
    assert body["data"] == {
        "campaign": "deliv",
        "call_id": events[0]["call_id"],
        "external_id": "X0",
        "profile": events[0]["profile"],
    }
    for event in events:
        day = tmp_path / "data/calls/profiles/2026-11-25" / event["call_id"]
        assert json.loads((day / "worker_profile.json").read_text()) == event["profile"]
        assert (
            tmp_path / "data/calls/transcripts/2026-11-25" / event["call_id"] / "transcript.json"
        ).exists()
    status = await snapshot(redis, "deliv")
    assert status["outbox"] == {"pending": 0, "stored": 5, "delivered": 5, "dead": 0}
    await audit.flush()
    rows = [
        json.loads(line)
        for p in (tmp_path / "data/audit").rglob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert sorted(r["event"] for r in rows) == (
        ["consent_given"] * 5 + ["profile_stored"] * 5 + ["webhook_delivered"] * 5
    )
    assert all(r["phone_hash"] and r["call_id"] for r in rows)


async def test_failing_receiver_gets_every_event_with_the_same_id(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver(fail_first=3, status=500)
    async with running_server(receiver.app) as base:
        events = [make_event(n, f"{base}/hook") for n in range(4)]
        await enqueue(redis, events)
        outbox = outbox_for(FileStorage(tmp_path / "data"))
        assert await outbox.drain(10) == 0
    for event in events:
        msg = f"msg_{event['call_id']}"
        assert len(receiver.tries(msg)) == 4  # three failures, then the delivery
    assert sorted(receiver.successes) == sorted(receiver.delivered)
    assert int(await redis.hget(CampaignKeys("deliv").stats, "webhooks_delivered")) == 4
    assert int(await redis.hget(CampaignKeys("deliv").stats, "profiles_stored")) == 4


async def test_retries_do_not_hold_up_other_events(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    down, up = Receiver(fail_first=100), Receiver()
    slow = RetrySchedule(delays_s=(0, 30, 30), jitter=0)
    async with running_server(down.app) as bad, running_server(up.app) as good:
        await enqueue(redis, [make_event(0, f"{bad}/hook")])
        await enqueue(redis, [make_event(n, f"{good}/hook") for n in range(1, 4)])
        outbox = outbox_for(FileStorage(tmp_path / "data"), schedule=slow)
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run(stop))
        await up.wait_delivered(3, timeout=5)
        stop.set()
        await task
    assert len(down.attempts) == 1
    keys = CampaignKeys("deliv")
    assert await redis.zcard(keys.retry) == 1
    assert (await snapshot(redis, "deliv"))["outbox"]["pending"] == 1
    parked = json.loads(await redis.hget(keys.deliveries, make_event(0, None)["call_id"]))
    assert parked["attempts"] == 1 and parked["stored"] == "1"
    assert "transcript" not in json.loads(parked["event"])


async def test_retry_after_is_honoured(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver(fail_first=1, status=429, retry_after="1")
    async with running_server(receiver.app) as base:
        event = make_event(0, f"{base}/hook")
        await enqueue(redis, [event])
        outbox = outbox_for(
            FileStorage(tmp_path / "data"), schedule=RetrySchedule(delays_s=(0, 0.01), jitter=0)
        )
        assert await outbox.drain(5) == 0
    first, second = receiver.tries(f"msg_{event['call_id']}")
    assert 0.95 <= second - first < 2.5


async def test_dead_letter_then_replay_delivers(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    storage = FileStorage(tmp_path / "data")
    audit = Audit(storage, campaign="deliv", worker="w1")
    receiver = Receiver(fail_first=2, status=503)
    keys = CampaignKeys("deliv")
    async with running_server(receiver.app) as base:
        event = make_event(0, f"{base}/hook")
        await enqueue(redis, [event])
        outbox = outbox_for(
            storage, audit=audit, schedule=RetrySchedule(delays_s=(0, 0.02), jitter=0)
        )
        assert await outbox.drain(5) == 0
        dead = json.loads(await redis.hget(keys.dead, event["call_id"]))
        assert (dead["error"], dead["status"], dead["attempts"]) == ("HTTP 503", 503, 2)
        assert dead["event"]["profile"] == event["profile"] and "transcript" not in dead["event"]
        assert (await snapshot(redis, "deliv"))["outbox"]["dead"] == 1
        assert receiver.delivered == {}
        summary = await replay_outbox(redis, outbox.sender, ReplayRequest())  # type: ignore
    assert summary.counts == {"delivered": 1}
    assert list(receiver.delivered) == [f"msg_{event['call_id']}"]
    assert {m for m, _ in receiver.attempts} == {f"msg_{event['call_id']}"}
    assert await redis.hlen(keys.dead) == 0
    assert (await snapshot(redis, "deliv"))["outbox"]["delivered"] == 1
    await audit.flush()
    text = "".join(p.read_text() for p in (tmp_path / "data/audit").rglob("*.jsonl"))
    assert "webhook_dead_lettered" in text and "HTTP 503" in text


async def test_private_address_is_refused_dead_lettered_and_reported(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver()
    keys = CampaignKeys("deliv")
    async with running_server(receiver.app) as base:
        event = make_event(0, f"{base}/hook")
        await enqueue(redis, [event])
        outbox = outbox_for(FileStorage(tmp_path / "data"), allow_private=False)
        assert await outbox.drain(5) == 0
        dead = json.loads(await redis.hget(keys.dead, event["call_id"]))
        assert "non-public" in dead["error"] and dead["attempts"] == 1
        sender = outbox.sender
        assert sender is not None
        dry = await replay_outbox(redis, sender, ReplayRequest(dry_run=True))
        real = await replay_outbox(redis, sender, ReplayRequest())
    assert receiver.attempts == []
    assert dry.counts == {"refused": 1} and real.counts == {"refused": 1}
    assert "VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS" in real.items[0].error
    assert await redis.hlen(keys.dead) == 1
    assert (tmp_path / "data/calls/profiles/2026-11-25" / event["call_id"]).is_dir()


async def test_without_webhook_url_storing_is_the_whole_job(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    await enqueue(redis, [make_event(0, None)])
    outbox = outbox_for(FileStorage(tmp_path / "data"))
    assert await outbox.drain(5) == 0
    assert len(list((tmp_path / "data").rglob("worker_profile.json"))) == 1
    assert await redis.hlen(CampaignKeys("deliv").dead) == 0


async def test_profiles_are_held_while_storage_fails(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    root.write_text("storage is down: a file where the folder should be")
    receiver = Receiver()
    keys = CampaignKeys("deliv")
    async with running_server(receiver.app) as base:
        events = [make_event(n, f"{base}/hook") for n in range(3)]
        await enqueue(redis, events)
        outbox = outbox_for(FileStorage(root))
        await outbox.process_once(block_ms=10)
        assert await outbox.pending() == 3 and await redis.zcard(keys.retry) == 3
        held = json.loads(await redis.hget(keys.deliveries, events[0]["call_id"]))
        assert held["stored"] == "0" and "transcript" in json.loads(held["event"])
        assert receiver.attempts == []  # never delivered before it is stored
        root.unlink()
        assert await outbox.drain(10) == 0
    assert len(list(root.rglob("worker_profile.json"))) == 3
    assert len(list(root.rglob("transcript.json"))) == 3
    assert len(receiver.delivered) == 3


async def test_events_of_a_dead_worker_are_taken_over_not_a_live_ones(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver()
    keys = CampaignKeys("deliv")
    async with running_server(receiver.app) as base:
        outbox = outbox_for(FileStorage(tmp_path / "data"), consumer="survivor")
        await outbox.ensure_group()
        await enqueue(redis, [make_event(0, f"{base}/hook")])
        # A worker read it and was killed before acknowledging: no heartbeat.
        await redis.xreadgroup(OUTBOX_GROUP, "killed", {keys.outbox: ">"}, count=10)
        # Another read one and is alive (its heartbeat is fresh): its event is left alone.
        await enqueue(redis, [make_event(1, f"{base}/hook")])
        await redis.set(keys.consumer("busy"), "1", px=60_000)
        await redis.xreadgroup(OUTBOX_GROUP, "busy", {keys.outbox: ">"}, count=10)
        assert await outbox.drain(1.5) == 1
    assert list(receiver.delivered) == [f"msg_{make_event(0, None)['call_id']}"]
    consumers = {
        c["name"].decode(): c["pending"]
        for c in await redis.xinfo_consumers(keys.outbox, OUTBOX_GROUP)
    }
    assert consumers["busy"] == 1 and consumers.get("killed", 0) == 0


async def test_several_workers_deliver_each_retry_once(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver(fail_first=1)
    async with running_server(receiver.app) as base:
        events = [make_event(n, f"{base}/hook") for n in range(30)]
        await enqueue(redis, events)
        storage = FileStorage(tmp_path / "data")
        workers = [outbox_for(storage, consumer=f"w{i}") for i in range(3)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        await receiver.wait_delivered(30)
        stop.set()
        await asyncio.gather(*tasks)
    assert sorted(receiver.successes) == sorted(f"msg_{e['call_id']}" for e in events)
    assert len(receiver.attempts) == 60  # exactly one failure and one delivery each
    assert sum(w.handled for w in workers) == 30


async def test_drain_does_not_wait_for_retries_due_later(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    receiver = Receiver(fail_first=5)
    async with running_server(receiver.app) as base:
        await enqueue(redis, [make_event(0, f"{base}/hook")])
        outbox = outbox_for(
            FileStorage(tmp_path / "data"), schedule=RetrySchedule(delays_s=(0, 3600))
        )
        started = time.monotonic()
        assert await outbox.drain(5) == 1
    assert time.monotonic() - started < 2
    assert len(receiver.attempts) == 1


async def test_replaying_a_parked_event_cancels_its_later_retry(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    failing, working = Receiver(fail_first=1, status=503), Receiver()
    async with running_server(failing.app) as bad, running_server(working.app) as good:
        event = make_event(0, f"{bad}/hook")
        await enqueue(redis, [event])
        # The first attempt fails; the retry is parked a long way off.
        outbox = outbox_for(
            FileStorage(tmp_path / "data"), schedule=RetrySchedule(delays_s=(0, 3600), jitter=0)
        )
        assert await outbox.drain(1) == 1
        assert (await snapshot(redis, "deliv"))["outbox"]["pending"] == 1
        request = ReplayRequest(all_events=True, webhook_url=f"{good}/hook")
        summary = await replay_outbox(redis, outbox.sender, request)  # type: ignore[arg-type]
        assert summary.counts == {"delivered": 1}
        # Were the parked retry still there, making it due would deliver the event again.
        await redis.zadd(CampaignKeys("deliv").retry, {event["call_id"]: 0}, xx=True)
        assert await outbox.drain(2) == 0
    assert len(failing.attempts) == 1 and len(working.attempts) == 1
    assert (await snapshot(redis, "deliv"))["outbox"]["pending"] == 0


async def test_a_stuck_receiver_holds_only_its_own_event(
    redis: aioredis.Redis, outbox_for: OutboxFactory, tmp_path: Path
) -> None:
    stuck, quick = Receiver(), Receiver()
    stuck.hold = asyncio.Event()  # answers only when the test lets it
    async with running_server(stuck.app) as slow_base, running_server(quick.app) as fast_base:
        await enqueue(redis, [make_event(0, f"{slow_base}/hook")])
        outbox = outbox_for(FileStorage(tmp_path / "data"))
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run(stop))
        await asyncio.wait_for(stuck.arrived.wait(), 10)
        # Events that arrive while the first is stuck are stored and delivered meanwhile,
        # well before the stuck attempt's 5 s deadline could free the loop.
        await enqueue(redis, [make_event(n, f"{fast_base}/hook") for n in range(1, 6)])
        await quick.wait_delivered(5, timeout=3)
        profiles = list((tmp_path / "data").rglob("worker_profile.json"))
        assert len(profiles) == 6 and stuck.delivered == {}
        stuck.hold.set()
        await stuck.wait_delivered(1)
        stop.set()
        await task
    assert (await snapshot(redis, "deliv"))["outbox"]["pending"] == 0
