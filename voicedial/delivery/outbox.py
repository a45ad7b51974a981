"""The outbox consumer: stores and delivers the events that `finish.lua` writes in the same
atomic step that settles a call, at least once, from any worker.

One pass over an event writes its outcome to the audit trail, stores the profile and transcript,
then makes one webhook attempt. Work that must wait (the store failed, or an attempt failed with
attempts left) is parked until its next try; after the last attempt, or at once for a refused
URL or a permanent 4xx, the event is dead-lettered with the reason. Store failures are retried
with a short capped backoff for ever: a profile is never given up on. How entries move in Redis
(stream, group, parking, take-over) is `voicedial.state.outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from voicedial.delivery.audit import Audit
from voicedial.delivery.events import DeadLetter, OutboxEvent
from voicedial.delivery.files import store_event
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import DeliveryResult, WebhookSender
from voicedial.errors import StorageError
from voicedial.state.connect import RedisError
from voicedial.state.outbox import Entry, EntryOutcome, OutboxQueue, Parked
from voicedial.state.states import Disposition

__all__ = ["Outbox"]

log = logging.getLogger("voicedial.outbox")

# A consumer killed outright holds its events until its heartbeat lapses: keep that short.
_HEARTBEAT_TTL_MS = 6_000
_HEARTBEAT_EVERY_S = 2.0
_TAKEOVER_EVERY_S = 1.0
_STORE_RETRY_BASE_S = 0.5
_STORE_RETRY_CAP_S = 60.0
# How long one pass waits for the events it started before reading more.
_PASS_WAIT_S = 0.05


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Job:
    """One event and how far it got (carried in stream fields and in parked records)."""

    event: OutboxEvent
    attempts: int = 0
    stored: bool = False
    store_failures: int = 0
    last_error: str = ""

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> _Job:
        return cls(
            event=OutboxEvent.from_json(fields[b"event"]),
            attempts=int(fields.get(b"attempts", b"0")),
            stored=fields.get(b"stored") == b"1",
            store_failures=int(fields.get(b"store_failures", b"0")),
            last_error=fields.get(b"last_error", b"").decode(),
        )

    def fields(self) -> dict[str, str | int]:
        # Once stored, the transcript is in storage: Redis keeps the smaller form.
        event = self.event.without_transcript() if self.stored else self.event
        return {
            "event": event.to_json(),
            "attempts": self.attempts,
            "stored": "1" if self.stored else "0",
            "store_failures": self.store_failures,
            "last_error": self.last_error[:500],
        }

    @property
    def id(self) -> str:
        return self.event.call_id


class Outbox:
    """Stores and delivers one campaign's events, as one consumer of its group.

    Without a `sender`, storing is the whole job; an event without a webhook URL is done once
    stored."""

    def __init__(
        self,
        *,
        queue: OutboxQueue,
        storage: Storage,
        consumer: str,
        sender: WebhookSender | None = None,
        audit: Audit | None = None,
        recordings: RecordingFetcher | None = None,
        reclaim_idle_ms: int = 120_000,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
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
        self._inflight: dict[bytes, asyncio.Task[bool]] = {}

    # -- the group and this consumer's heartbeat ---------------------------------------------
    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing."""
        await self.queue.ensure_group()
        self._group_ready = True

    async def _beat(self) -> None:
        await self.queue.beat(self.consumer, ttl_ms=_HEARTBEAT_TTL_MS)
        self._last_beat = time.monotonic()

    @contextlib.asynccontextmanager
    async def _alive(self) -> AsyncIterator[None]:
        """Keep this consumer's heartbeat fresh while a loop runs (even through a slow POST);
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
                await asyncio.shield(self.queue.forget(self.consumer))

    async def pending(self) -> int:
        """Events not yet done (unread, being handled, or parked for a later attempt)."""
        return await self.queue.pending()

    async def _take_over(self, count: int) -> list[Entry]:
        now = time.monotonic()
        if now < self._next_takeover:
            return []
        self._next_takeover = now + _TAKEOVER_EVERY_S
        entries = await self.queue.take_over(
            self.consumer, count=count, idle_ms=self.reclaim_idle_ms
        )
        if entries:
            log.info("took over %d event(s) of stopped or stuck consumers", len(entries))
        return entries

    # -- one pass ----------------------------------------------------------------------------
    async def process_once(self, *, block_ms: int = 200, count: int = 32) -> int:
        """Take what is waiting (due retries and stopped consumers' events first) and start
        each event as a task of its own; returns how many events were finished (stored, and
        delivered or dead-lettered) since the last call.

        Events run independently: one slow or dead receiver holds only its own event (up to
        the webhook deadline) while this loop goes on reading, storing and delivering the
        others; at most `count` are in flight at once."""
        if not self._group_ready:
            await self.ensure_group()
        if time.monotonic() - self._last_beat > _HEARTBEAT_EVERY_S:
            await self._beat()
        await self.queue.promote_due()
        room = count - len(self._inflight)
        entries = await self._take_over(room) if room > 0 else []
        entries = [(i, f) for i, f in entries if i not in self._inflight]
        if not entries and room > 0:
            read = await self.queue.read(
                self.consumer, count=room, block_ms=block_ms if not self._inflight else 10
            )
            if read is None:  # the group is gone (the stream was deleted): make it again
                self._group_ready = False
                return 0
            entries = read
        for entry_id, fields in entries:
            self._inflight[entry_id] = asyncio.create_task(self._process(entry_id, fields))
        if self._inflight:
            # Give this pass's quick events time to finish; slow ones go on in the background.
            await asyncio.wait(
                self._inflight.values(), timeout=_PASS_WAIT_S, return_when="ALL_COMPLETED"
            )
        return self._collect()

    def _collect(self) -> int:
        """Take the results of finished events; returns how many were done."""
        done = 0
        for entry_id, task in list(self._inflight.items()):
            if not task.done():
                continue
            del self._inflight[entry_id]
            if task.cancelled():
                continue
            if (exc := task.exception()) is not None:
                # Left unacknowledged: it is handed to a consumer again later.
                log.error("outbox event not handled: %r", exc)
            elif task.result():
                done += 1
        self.handled += done
        return done

    async def _settle_inflight(self, timeout_s: float) -> None:
        """Let events in flight finish for up to `timeout_s`, then cancel the rest: they stay
        unacknowledged, and another consumer (or the next run) takes them over."""
        if self._inflight:
            await asyncio.wait(self._inflight.values(), timeout=max(0.0, timeout_s))
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        self._collect()
        self._inflight.clear()

    async def _process(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> bool:
        # A trimmed-away entry has nothing left to do.
        outcome = await self._work(_Job.from_fields(fields)) if fields else EntryOutcome(True)
        await self.queue.settle(entry_id, outcome)
        return outcome.done

    async def _work(self, job: _Job) -> EntryOutcome:
        """Store, then one attempt; returns what that changed (applied atomically with the
        acknowledgement)."""
        event = job.event
        if not event.has_profile:
            # A call that ended without a profile: its outcome goes to the audit trail only.
            self._audit_outcome(event)
            return EntryOutcome(done=True)
        if not job.stored and not job.attempts:
            self._audit_outcome(event)
        stored_now = False
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
                return EntryOutcome(
                    False, park=self._parked(job, delay * self.rng.uniform(0.8, 1.2))
                )
            job.stored = stored_now = True
            self._audit("profile_stored", event)
        url = event.webhook_url
        if not url or self.sender is None:
            return EntryOutcome(True, stored=stored_now)
        result = await self.sender.send(url, event)
        job.attempts += 1
        if result.ok:
            self._audit("webhook_delivered", event, attempts=job.attempts, status=result.status)
            return EntryOutcome(True, stored=stored_now, delivered=True)
        job.last_error = result.error
        delay = (
            None
            if result.permanent
            else self.sender.schedule.next_delay(
                job.attempts, retry_after_s=result.retry_after_s, rng=self.rng
            )
        )
        if delay is None:
            return EntryOutcome(True, stored=stored_now, dead=self._dead_letter(job, result))
        log.info(
            "webhook for call %s failed (attempt %d: %s); next in %.1fs",
            job.id,
            job.attempts,
            result.error,
            delay,
        )
        return EntryOutcome(False, stored=stored_now, park=self._parked(job, delay))

    @staticmethod
    def _parked(job: _Job, delay_s: float) -> Parked:
        return Parked(job.id, job.fields(), _now_ms() + int(delay_s * 1000))

    def _dead_letter(self, job: _Job, result: DeliveryResult) -> tuple[str, str]:
        log.warning(
            "webhook for call %s dead-lettered after %d attempt(s): %s",
            job.id,
            job.attempts,
            result.error,
        )
        self._audit("webhook_dead_lettered", job.event, attempts=job.attempts, error=result.error)
        letter = DeadLetter.of(
            job.event, error=result.error, attempts=job.attempts, status=result.status
        )
        return job.id, letter.to_json()

    def _audit_outcome(self, event: OutboxEvent) -> None:
        """consent_given / consent_declined / opted_out / call_settled, once per call."""
        outcome = event.outcome
        what = (
            "interrupted_by_operator"
            if outcome.interrupted
            else "opted_out"
            if outcome.disposition == Disposition.OPTED_OUT
            else "consent_given"
            if outcome.consent_given
            else "consent_declined"
            if outcome.consent_given is False
            else "call_settled"
        )
        self._audit(what, event, disposition=outcome.disposition.value, attempt=outcome.attempt)

    def _audit(self, what: str, event: OutboxEvent, **fields: Any) -> None:
        if self.audit is None:
            return
        self.audit.record(
            what,
            campaign=event.campaign,
            call_id=event.call_id,
            contact_id=event.contact_id,
            phone_hash=event.phone_hash,
            **fields,
        )

    # -- loops -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set (events in flight then get a webhook deadline to end)."""
        async with self._alive():
            try:
                while not stop.is_set():
                    try:
                        await self.process_once()
                    except RedisError as exc:
                        log.warning("outbox: Redis error, retrying in 1s: %s", exc)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 1.0)
            finally:
                await self._settle_inflight(self._deadline_s())

    async def drain(self, timeout_s: float) -> int:
        """Handle what is pending, and whatever falls due, for at most `timeout_s`; returns
        what is left (parked for later attempts included)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if not self._group_ready:
            await self.ensure_group()
        async with self._alive():
            try:
                while loop.time() < deadline:
                    horizon = _now_ms() + int((deadline - loop.time()) * 1000)
                    if await self.queue.due_before(horizon) == 0:
                        break
                    await self.process_once(block_ms=100)
            finally:
                await self._settle_inflight(deadline - loop.time())
        return await self.pending()

    def _deadline_s(self) -> float:
        return self.sender.timeout_s if self.sender is not None else 5.0
