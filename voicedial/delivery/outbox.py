"""The outbox: profile events written by `finish.lua` in the same atomic step that settles a
call, then stored and delivered by any worker, at least once.

How an event moves:

* The **stream** (`CampaignKeys.outbox`) holds work that may be done now. A consumer group
  hands each entry to one worker; the entry stays in the group's pending list until that worker
  acknowledges it, so a worker killed mid-store or mid-POST loses nothing: the others take over
  its entries at once when its heartbeat key (`CampaignKeys.consumer`) has expired, and
  `XAUTOCLAIM` takes over entries of a worker that hangs.
* One pass over an entry stores the profile and transcript, then makes one webhook attempt.
* Work that must wait (the store failed, or an attempt failed with attempts left) is parked, in
  one MULTI/EXEC with the acknowledgement, as a record in the `deliveries` hash plus a due time in
  the `retry` sorted set. When due, a worker moves it back onto the stream (WATCH on the sorted
  set, so exactly one worker does). A retry five hours out holds no worker, no memory and no
  place in line: other events flow past it.
* After the last attempt, or at once for a refused URL, the event is dead-lettered into the
  `dead` hash (call id -> JSON with the last error), where `replay-outbox` finds it.

Store failures are retried with a short capped backoff for ever: a profile is never given up on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, ResponseError, WatchError

from voicedial.delivery.audit import Audit
from voicedial.delivery.recordings import RecordingFetcher, recording_key
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import DeliveryResult, WebhookSender
from voicedial.errors import StorageError
from voicedial.state.keys import OUTBOX_GROUP, CampaignKeys

__all__ = [
    "PROFILE_EVENT",
    "SETTLED_EVENT",
    "Outbox",
    "dead_letter_record",
    "outbox_pending",
    "profile_key",
    "store_event",
    "transcript_key",
]

log = logging.getLogger("voicedial.delivery.outbox")

# A worker killed outright holds its events until its heartbeat lapses: keep that short.
_HEARTBEAT_TTL_MS = 6_000
_HEARTBEAT_EVERY_S = 2.0
_TAKEOVER_EVERY_S = 1.0
_DEAD_CONSUMER_IDLE_MS = 500  # an entry is taken from a dead worker once idle this long
_STORE_RETRY_BASE_S = 0.5
_STORE_RETRY_CAP_S = 60.0
_PROMOTE_BATCH = 64


def _day(event: dict[str, Any]) -> str:
    ended = (event.get("profile") or {}).get("call", {}).get("ended_at")
    if ended:
        return str(ended)[:10]
    return datetime.now(UTC).strftime("%Y-%m-%d")


def profile_key(event: dict[str, Any]) -> str:
    """Where a profile is stored (SPEC §8)."""
    return f"calls/profiles/{_day(event)}/{event['call_id']}/worker_profile.json"


def transcript_key(event: dict[str, Any]) -> str:
    """Where a transcript is stored (SPEC §8)."""
    return f"calls/transcripts/{_day(event)}/{event['call_id']}/transcript.json"


PROFILE_EVENT = "worker_profile.completed"
SETTLED_EVENT = "call.settled"


async def store_event(
    storage: Storage, event: dict[str, Any], recordings: RecordingFetcher | None = None
) -> None:
    """Write an event's profile, transcript and recording (idempotent: same keys, same
    content). A recording is only fetched when `recordings` is given (a campaign with
    --record) and the call had consent (only profile events reach here)."""
    await storage.put_json(profile_key(event), event["profile"])
    if event.get("transcript") is not None:
        await storage.put_json(transcript_key(event), event["transcript"])
    if event.get("recording_url") and recordings is not None:
        audio = await recordings.fetch(event["recording_url"])
        if audio is not None:
            await storage.put_bytes(
                recording_key(_day(event), event["call_id"]), audio, "audio/wav"
            )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def outbox_pending(redis: Redis, keys: CampaignKeys) -> int:
    """A campaign's events not yet finished (stored, and delivered or dead-lettered): unread,
    being handled, or parked until their next attempt.

    Counted as `stats.events` (finish.lua adds one per event) minus `stats.outbox_done` (added
    in the same MULTI/EXEC that acknowledges a finished event): O(1), and right on Redis 6.2,
    whose XINFO GROUPS has no `lag`."""
    queued, done = await redis.hmget(keys.stats, ["events", "outbox_done"])
    return max(0, int(queued or 0) - int(done or 0))


@dataclass
class _Job:
    """One event and how far it got (carried in stream fields and in parked records)."""

    event: dict[str, Any]
    attempts: int = 0
    stored: bool = False
    store_failures: int = 0
    last_error: str = ""

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> _Job:
        return cls(
            event=json.loads(fields[b"event"]),
            attempts=int(fields.get(b"attempts", b"0")),
            stored=fields.get(b"stored") == b"1",
            store_failures=int(fields.get(b"store_failures", b"0")),
            last_error=fields.get(b"last_error", b"").decode(),
        )

    def fields(self) -> dict[str, str | int]:
        event = self.event
        if self.stored:  # the transcript is in storage now; keep Redis small
            event = {k: v for k, v in event.items() if k != "transcript"}
        return {
            "event": json.dumps(event, ensure_ascii=False),
            "attempts": self.attempts,
            "stored": "1" if self.stored else "0",
            "store_failures": self.store_failures,
            "last_error": self.last_error[:500],
        }

    @property
    def id(self) -> str:
        return str(self.event["call_id"])


def dead_letter_record(
    event: dict[str, Any],
    *,
    error: str,
    attempts: int,
    status: int | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """The JSON kept in the `dead` hash for an event that could not be delivered."""
    return {
        "id": str(event["call_id"]),
        "campaign": event.get("campaign"),
        "webhook_url": url if url is not None else event.get("webhook_url"),
        "error": error,
        "status": status,
        "attempts": attempts,
        "dead_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "event": {k: v for k, v in event.items() if k != "transcript"},
    }


class Outbox:
    """Stores and delivers one campaign's profile events, as one consumer of its group.

    Without a `sender`, storing is the whole job; an event without a webhook URL is done once
    stored."""

    def __init__(
        self,
        *,
        redis: Redis,
        campaign: str,
        storage: Storage,
        consumer: str,
        sender: WebhookSender | None = None,
        audit: Audit | None = None,
        recordings: RecordingFetcher | None = None,
        reclaim_idle_ms: int = 120_000,
        rng: random.Random | None = None,
    ) -> None:
        self.redis = redis
        self.keys = CampaignKeys(campaign)
        self.storage = storage
        self.consumer = consumer
        self.sender = sender
        self.audit = audit
        self.recordings = recordings
        self.reclaim_idle_ms = reclaim_idle_ms
        self.rng = rng or random.Random()
        self.handled = 0
        self._group_ready = False
        self._next_takeover = 0.0
        self._last_beat = 0.0

    # -- the group and this worker's heartbeat -----------------------------------------------
    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _beat(self) -> None:
        await self.redis.set(self.keys.consumer(self.consumer), "1", px=_HEARTBEAT_TTL_MS)
        self._last_beat = time.monotonic()

    @contextlib.asynccontextmanager
    async def _alive(self) -> AsyncIterator[None]:
        """Keep this worker's heartbeat fresh while a loop runs (even through a slow POST);
        remove it at the end so others may take over what is left at once."""

        async def beat() -> None:
            while True:
                await self._beat()
                await asyncio.sleep(_HEARTBEAT_EVERY_S)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):  # best effort: the key expires anyway
                await asyncio.shield(self.redis.delete(self.keys.consumer(self.consumer)))

    # -- reading -----------------------------------------------------------------------------
    async def pending(self) -> int:
        """Events not yet done (unread, being handled, or parked for a later attempt)."""
        return await outbox_pending(self.redis, self.keys)

    async def _due_before(self, deadline_ms: int) -> int:
        """Unfinished events that are, or fall, due before `deadline_ms`."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.keys.retry)
        pipe.zcount(self.keys.retry, "-inf", deadline_ms)
        parked, due = await pipe.execute()
        return max(0, await self.pending() - int(parked) + int(due))

    async def _take_over(self, count: int) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        """Entries of workers whose heartbeat is gone, then of any that sat too long."""
        now = time.monotonic()
        if now < self._next_takeover:
            return []
        self._next_takeover = now + _TAKEOVER_EVERY_S
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
        for info in await self.redis.xinfo_consumers(self.keys.outbox, OUTBOX_GROUP):
            name = _text(info["name"])
            if name == self.consumer or await self.redis.exists(self.keys.consumer(name)):
                continue
            if int(info["pending"]) == 0:
                if int(info["idle"]) > self.reclaim_idle_ms:  # tidy the group's member list
                    await self.redis.xgroup_delconsumer(self.keys.outbox, OUTBOX_GROUP, name)
                continue
            rows = await self.redis.xpending_range(
                self.keys.outbox, OUTBOX_GROUP, min="-", max="+", count=count, consumername=name
            )
            ids = [row["message_id"] for row in rows]
            if ids:
                taken = await self.redis.xclaim(
                    self.keys.outbox,
                    OUTBOX_GROUP,
                    self.consumer,
                    min_idle_time=_DEAD_CONSUMER_IDLE_MS,
                    message_ids=ids,
                )
                if taken:
                    log.info("took over %d event(s) of stopped worker %s", len(taken), name)
                entries.extend(taken)
        reply = await self.redis.xautoclaim(
            self.keys.outbox,
            OUTBOX_GROUP,
            self.consumer,
            min_idle_time=self.reclaim_idle_ms,
            start_id="0-0",
            count=count,
        )
        entries.extend(reply[1])  # Redis 7 adds a third element (deleted ids); 6.2 has two
        return entries

    async def _promote_due(self) -> int:
        """Move parked work whose time has come back onto the stream (exactly once: WATCH)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.keys.retry)
                ids = await pipe.zrangebyscore(
                    self.keys.retry, "-inf", _now_ms(), start=0, num=_PROMOTE_BATCH
                )
                if not ids:
                    return 0
                records = await pipe.hmget(self.keys.deliveries, ids)
                pipe.multi()
                for member, record in zip(ids, records, strict=True):
                    if record is not None:
                        pipe.xadd(self.keys.outbox, json.loads(record))
                    pipe.zrem(self.keys.retry, member)
                    pipe.hdel(self.keys.deliveries, member)
                await pipe.execute()
            except WatchError:
                return 0  # another worker moved them
        return len(ids)

    # -- one pass ----------------------------------------------------------------------------
    async def process_once(self, *, block_ms: int = 200, count: int = 32) -> int:
        """Handle what is waiting (due retries and stopped workers' events first); returns how
        many events were finished (stored, and delivered or dead-lettered)."""
        if not self._group_ready:
            await self.ensure_group()
        if time.monotonic() - self._last_beat > _HEARTBEAT_EVERY_S:
            await self._beat()
        await self._promote_due()
        entries = await self._take_over(count)
        if not entries:
            try:
                read = await self.redis.xreadgroup(
                    OUTBOX_GROUP,
                    self.consumer,
                    {self.keys.outbox: ">"},
                    count=count,
                    block=block_ms,
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group_ready = False
                return 0
            for _, items in read or []:
                entries.extend(items)
        results = await asyncio.gather(
            *(self._process(i, f) for i, f in entries), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                # Left unacknowledged: XAUTOCLAIM hands it to a worker again later.
                log.error("outbox event not handled: %r", result)
        done = sum(r for r in results if r is True)
        self.handled += done
        return done

    async def _process(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        if not fields:  # trimmed away: nothing left to do
            done = True
        else:
            done = await self._work(_Job.from_fields(fields), pipe)
        if done:
            pipe.hincrby(self.keys.stats, "outbox_done", 1)
        pipe.xack(self.keys.outbox, OUTBOX_GROUP, entry_id)
        # Shielded: a cancelled loop must not leave the work done but unrecorded.
        results = await asyncio.shield(pipe.execute())
        if done and not results[-1]:
            # Another worker finished this entry first (it took over from us while we hung):
            # count it once.
            await self.redis.hincrby(self.keys.stats, "outbox_done", -1)
        return done

    async def _work(self, job: _Job, pipe: Pipeline) -> bool:
        """Store, then one attempt; queue on `pipe` what that changes (applied atomically with
        the acknowledgement). True when the event is finished."""
        event = job.event
        if event.get("type") == SETTLED_EVENT:
            # A call that ended without a profile: its outcome goes to the audit trail only.
            self._audit_outcome(event)
            return True
        if not job.stored and not job.attempts:
            self._audit_outcome(event)
        if not job.stored:
            try:
                await store_event(self.storage, event, self.recordings)
            except StorageError as exc:
                delay = min(_STORE_RETRY_CAP_S, _STORE_RETRY_BASE_S * 2**job.store_failures)
                job.store_failures += 1
                job.last_error = str(exc)
                log.warning(
                    "profile of call %s not stored yet (retry in %.1fs): %s", job.id, delay, exc
                )
                self._park(pipe, job, delay * self.rng.uniform(0.8, 1.2))
                return False
            job.stored = True
            pipe.hincrby(self.keys.stats, "profiles_stored", 1)
            self._audit("profile_stored", event)
        url = event.get("webhook_url")
        if not url or self.sender is None:
            return True
        result = await self.sender.send(url, event)
        job.attempts += 1
        if result.ok:
            pipe.hincrby(self.keys.stats, "webhooks_delivered", 1)
            self._audit("webhook_delivered", event, attempts=job.attempts, status=result.status)
            return True
        job.last_error = result.error
        delay = (
            None
            if result.permanent
            else self.sender.schedule.next_delay(
                job.attempts, retry_after_s=result.retry_after_s, rng=self.rng
            )
        )
        if delay is None:
            self._dead_letter(pipe, job, result)
            return True
        log.info(
            "webhook for call %s failed (attempt %d: %s); next in %.1fs",
            job.id,
            job.attempts,
            result.error,
            delay,
        )
        self._park(pipe, job, delay)
        return False

    def _park(self, pipe: Pipeline, job: _Job, delay_s: float) -> None:
        pipe.hset(self.keys.deliveries, job.id, json.dumps(job.fields()))
        pipe.zadd(self.keys.retry, {job.id: _now_ms() + int(delay_s * 1000)})

    def _dead_letter(self, pipe: Pipeline, job: _Job, result: DeliveryResult) -> None:
        log.warning(
            "webhook for call %s dead-lettered after %d attempt(s): %s",
            job.id,
            job.attempts,
            result.error,
        )
        record = dead_letter_record(
            job.event, error=result.error, attempts=job.attempts, status=result.status
        )
        pipe.hset(self.keys.dead, job.id, json.dumps(record, ensure_ascii=False))
        self._audit("webhook_dead_lettered", job.event, attempts=job.attempts, error=result.error)

    def _audit_outcome(self, event: dict[str, Any]) -> None:
        """consent_given / consent_declined / opted_out / call_settled, once per call."""
        outcome = event.get("outcome") or {}
        disposition = outcome.get("disposition") or (event.get("profile") or {}).get("disposition")
        consent = outcome.get("consent_given", (event.get("profile") or {}).get("consent_given"))
        what = (
            "opted_out"
            if disposition == "opted_out"
            else "consent_given"
            if consent
            else "consent_declined"
            if consent is False
            else "call_settled"
        )
        self._audit(what, event, disposition=disposition, attempt=outcome.get("attempt"))

    def _audit(self, what: str, event: dict[str, Any], **fields: Any) -> None:
        if self.audit is None:
            return
        profile = event.get("profile") or {}
        self.audit.record(
            what,
            campaign=event.get("campaign"),
            call_id=event.get("call_id"),
            contact_id=event.get("contact_id"),
            phone_hash=profile.get("phone_hash") or event.get("phone_hash"),
            **fields,
        )

    # -- loops -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set."""
        async with self._alive():
            while not stop.is_set():
                try:
                    await self.process_once()
                except RedisError as exc:
                    log.warning("outbox: Redis error, retrying in 1s: %s", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)

    async def drain(self, timeout_s: float) -> int:
        """Handle what is pending, and whatever falls due, for at most `timeout_s`; returns
        what is left (parked for later attempts included)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if not self._group_ready:
            await self.ensure_group()
        async with self._alive():
            while loop.time() < deadline:
                horizon = _now_ms() + int((deadline - loop.time()) * 1000)
                if await self._due_before(horizon) == 0:
                    break
                await self.process_once(block_ms=100)
        return await self.pending()
