"""The dial loop: claim a due contact, check its calling window, wait for the account's pace,
place the call. Many of these may run on one campaign (several processes or machines); the
claim in Redis makes sure no contact is dialled twice at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .audit import Audit
from .errors import TelephonyError
from .metrics import Metrics
from .options import CampaignOptions
from .pacing import Pacer
from .server import voice_urls
from .store import CampaignStore
from .telephony import INVALID_NUMBER_CODES, CallRequest, TwilioProvider

__all__ = ["Dialer", "FatalTelephonyError"]

log = logging.getLogger("voicedial.dialer")
_IDLE_POLL_S = 0.05
_CLAIM_BATCH = 16
_AUTH_CODES = frozenset({20003, 20005, 20008})


class FatalTelephonyError(TelephonyError):
    """Twilio refuses the account itself (bad credentials, suspended): stop dialling."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TelephonyError) and exc.retryable


class Dialer:
    """One worker's dialling for one campaign."""

    def __init__(self, *, store: CampaignStore, options: CampaignOptions,
                 provider: TwilioProvider, pacer: Pacer, public_url: str, worker_id: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 create_attempts: int = 4, metrics: Metrics | None = None,
                 audit: Audit | None = None) -> None:
        self.store = store
        self.options = options
        self.provider = provider
        self.pacer = pacer
        self.public_url = public_url
        self.worker_id = worker_id
        self.clock = clock
        self.create_attempts = create_attempts
        self.metrics = metrics or Metrics()
        self.audit = audit
        # Claim about a tenth of a second of calls at a time: a claimed contact holds a
        # concurrency slot and shows as dialling, so claiming far ahead of the pace would
        # starve the cap and outlive a pause.
        self._claim_batch = max(1, min(_CLAIM_BATCH, int(options.cps / 10)))
        self.placed = 0
        self.fatal: FatalTelephonyError | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Dial until `stop` is set (or the account is refused)."""
        backlog: list[str] = []
        try:
            while not stop.is_set() and self.fatal is None:
                if not backlog:
                    backlog = await self.store.claim(
                        limit=self._claim_batch, max_concurrent=self.options.max_concurrent,
                        lease_ms=self.options.lease_ms, worker=self.worker_id)
                    if not backlog:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), _IDLE_POLL_S)
                        continue
                contact_id = backlog.pop(0)
                contact = await self.store.contact(contact_id)
                if not await self._in_window(contact_id, contact):
                    continue
                wait = await self.pacer.try_acquire()
                while wait > 0 and not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), wait)
                    if not stop.is_set():
                        wait = await self.pacer.try_acquire()
                if stop.is_set():
                    backlog.insert(0, contact_id)
                    break
                task = asyncio.create_task(self._dial(contact_id, contact))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            # Claimed but not dialled: give them back, due now, without counting an attempt.
            for contact_id in backlog:
                await asyncio.shield(self.store.release(contact_id, state="pending",
                                                        due_ms=int(time.time() * 1000),
                                                        reason="worker stopped"))
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _in_window(self, contact_id: str, contact: dict[str, str]) -> bool:
        zones = [z for z in contact.get("timezones", "").split(",") if z]
        now = self.clock()
        window = self.options.window
        if window.is_open(zones, now):
            return True
        opens = window.next_open(zones, now) or now + timedelta(days=1)
        await self.store.release(contact_id, state="waiting_window",
                                 due_ms=int(opens.timestamp() * 1000), reason="outside window")
        self._audit("call_skipped", contact_id, contact, reason="outside calling window",
                    next_try=opens.isoformat(timespec="minutes"))
        return False

    def _audit(self, what: str, contact_id: str, contact: dict[str, str], **fields: str) -> None:
        if self.audit is not None:
            self.audit.record(what, campaign=self.options.name, contact_id=contact_id,
                              phone_hash=contact.get("phone_hash"), **fields)

    async def _dial(self, contact_id: str, contact: dict[str, str]) -> None:
        urls = voice_urls(self.public_url, self.options.name, contact_id)
        request = CallRequest(to=contact["e164"], from_=self.options.from_number, url=urls["url"],
                              status_callback=urls["status_callback"],
                              amd_callback=urls["amd_callback"],
                              timeout_s=self.options.ring_timeout_s,
                              time_limit_s=self.options.time_limit_s,
                              record=self.options.record)
        try:
            async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_retryable),
                    stop=stop_after_attempt(self.create_attempts),
                    wait=wait_exponential_jitter(multiplier=0.5, max=8), reraise=True):
                with attempt:
                    placed = await self.provider.place_call(request)
        except TelephonyError as exc:
            await self._create_failed(contact_id, exc)
            self._audit("call_not_placed", contact_id, contact, reason=str(exc)[:200])
            return
        self.placed += 1
        self.metrics.calls_started.labels(self.options.name).inc()
        await asyncio.shield(self.store.record_dial(contact_id, placed.sid,
                                                    lease_ms=self.options.lease_ms,
                                                    queue_time_ms=placed.queue_time_ms))
        self._audit("call_placed", contact_id, contact, call_id=placed.sid,
                    attempt=contact.get("attempts", ""))

    async def _create_failed(self, contact_id: str, exc: TelephonyError) -> None:
        hashed = self.store.name, contact_id
        if exc.code in _AUTH_CODES or exc.status == 401:
            self.fatal = FatalTelephonyError(str(exc), code=exc.code, status=exc.status)
            await self.store.release(contact_id, state="pending", due_ms=int(time.time() * 1000),
                                     reason="account refused")
            return
        if exc.code in INVALID_NUMBER_CODES:
            log.info("contact %s/%s: number refused by Twilio (%s)", *hashed, exc.code)
            await self.store.release(contact_id, state="invalid", due_ms=None,
                                     reason=f"twilio {exc.code}", placed=True)
            return
        if exc.retryable:
            log.warning("contact %s/%s: call not placed, retrying later: %s", *hashed, exc)
            due = int(time.time() * 1000) + 30_000
            await self.store.release(contact_id, state="retry_wait", due_ms=due,
                                     reason=str(exc)[:200])
            return
        log.warning("contact %s/%s: call refused: %s", *hashed, exc)
        await self.store.release(contact_id, state="failed", due_ms=None,
                                 reason=str(exc)[:200], placed=True)
