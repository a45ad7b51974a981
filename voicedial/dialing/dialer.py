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

from voicedial.delivery.audit import Audit
from voicedial.dialing.pacing import Pacer
from voicedial.dialing.provider import CallProvider, CallRequest, PlacedCall
from voicedial.dialing.urls import voice_urls
from voicedial.errors import RedisUnavailable, TelephonyError
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.process import shielded
from voicedial.state.states import ContactState
from voicedial.state.store import CampaignStore

__all__ = ["Dialer", "FatalTelephonyError"]

log = logging.getLogger("voicedial.dialing.dialer")
_IDLE_POLL_S = 0.05
# Twilio's clock and Redis's may disagree a little: look for calls from slightly before a claim.
_CLOCK_SKEW = timedelta(seconds=5)
_UNKNOWN_RECHECK_MS = 20_000
# The event loop's timers are about a millisecond apart: lateness below this is not late.
_LATE_FLOOR_S = 0.002


def late_limit_s(interval_s: float) -> float:
    """How late a call may leave after its pace slot. Half an interval: the request's own
    trip to Twilio jitters too, and the two together must stay under one interval for no
    second to hold more than cps + 1 creates at Twilio's end.

    Infinite above 250 calls a second, where half an interval is finer than the loop's
    timers: no slot could be judged on time there, and skipping them all would stop dialling
    on a busy loop (it did: 100 calls a second at an unlimited pace). The pace then holds on
    average (the bucket's), and a late call goes out late instead of being held back."""
    half = interval_s / 2
    return half if half >= _LATE_FLOOR_S else float("inf")


# How often the campaign's calling windows are judged as a whole (see `closed_until`).
_GATE_S = 10.0
_CLAIM_BATCH = 64


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`, waking early when `stop` is set; True when it is."""
    if seconds >= 0.05:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    elif seconds > 0:
        await asyncio.sleep(seconds)  # a slot's wait: short, and cheaper than a wait_for
    return stop.is_set()


class _DialRecorder:
    """Records placed calls in Redis in batches: the calls whose creates complete in one turn
    of the event loop share one pipeline (one round trip), while each caller still waits for
    its own record to be written."""

    def __init__(self, store: CampaignStore, *, lease_ms: int) -> None:
        self._store = store
        self._lease_ms = lease_ms
        self._pending: list[tuple[str, str, int | None]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, contact_id: str, call_sid: str, queue_time_ms: int | None) -> None:
        """Return once this call's record is in Redis (raises what the write raised)."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((contact_id, call_sid, queue_time_ms))
        self._waiters.append(done)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let this turn's other completions join the batch
            while self._pending:
                batch, waiters = self._pending, self._waiters
                self._pending, self._waiters = [], []
                try:
                    await self._store.record_dials(batch, lease_ms=self._lease_ms)
                except Exception as exc:  # every waiter sees the failure
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._flushing = None


class FatalTelephonyError(TelephonyError):
    """Twilio refuses the account itself (bad credentials, suspended): stop dialling."""


def _refused(exc: TelephonyError) -> bool:
    """The carrier refuses the account itself (not this call)."""
    return exc.account_refused


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TelephonyError) and exc.retryable


class Dialer:
    """One worker's dialling for one campaign."""

    def __init__(
        self,
        *,
        store: CampaignStore,
        options: CampaignOptions,
        provider: CallProvider,
        pacer: Pacer,
        public_url: str,
        worker_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        create_attempts: int = 4,
        metrics: Metrics | None = None,
        audit: Audit | None = None,
    ) -> None:
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
        self.skipped_slots = 0
        self._started = self.metrics.calls_started.labels(options.name)
        self._recorder = _DialRecorder(store, lease_ms=options.lease_ms)
        self.fatal: FatalTelephonyError | None = None
        #: When the calling window is closed for every contact of the campaign: until when
        #: (nothing is claimed meanwhile). None while some contact may be called.
        self.closed_until: datetime | None = None
        self._gate_at = float("-inf")
        self._tasks: set[asyncio.Task[None]] = set()
        # Calls this process placed that may still be going: call sid -> (contact, placed at).
        # Kept in memory for the one moment Redis cannot be asked (an outage past the grace,
        # when they are hung up); a call cannot outlast its time limit and ring timeout.
        self._live: dict[str, tuple[str, float]] = {}
        self._live_for_s = options.ring_timeout_s + options.time_limit_s + 60

    async def run(self, stop: asyncio.Event) -> None:
        """Dial until `stop` is set (or the account is refused).

        Each round claims a batch, reads its contacts in one round trip, drops those outside
        their calling window, reserves pace slots for the rest in one more, and places each
        call at its slot's time; a round's Redis work is a few round trips, not a few per call.
        """
        backlog: list[tuple[str, dict[str, str]]] = []
        await self._warm_up()
        try:
            while not stop.is_set() and self.fatal is None:
                if not backlog and await self._window_closed():
                    await _wait(stop, _GATE_S)
                    continue
                if not backlog:
                    backlog = await self._claim()
                    if not backlog:
                        await _wait(stop, _IDLE_POLL_S)
                        continue
                deadlines, wait = await self.pacer.reserve(len(backlog))
                if not deadlines:
                    await _wait(stop, wait)
                    continue
                for deadline in deadlines:
                    delay = deadline - asyncio.get_running_loop().time()
                    if delay > 0 and await _wait(stop, delay):
                        break
                    if delay < -late_limit_s(self.pacer.interval_s):
                        # Reached a slot too late (a busy loop): firing it now would bunch
                        # calls; it is skipped, and its contact waits for the next
                        # reservation. Every call then leaves within half an interval of its
                        # slot, so no second holds more than cps + 1 (up to 250 cps: see
                        # `late_limit_s`).
                        self.skipped_slots += 1
                        continue
                    contact_id, contact = backlog.pop(0)
                    task = asyncio.create_task(self._dial(contact_id, contact, deadline))
                    self._tasks.add(task)
                    task.add_done_callback(self._dial_done)
        finally:
            # Claimed but not dialled: give them back, due now, without counting an attempt.
            for contact_id, _ in backlog:
                await shielded(
                    self.store.release(
                        contact_id,
                        state=ContactState.PENDING,
                        due_ms=int(time.time() * 1000),
                        reason="worker stopped",
                    )
                )
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _dial_done(self, task: asyncio.Task[None]) -> None:
        """A dial task's end. Its error is taken here (the loop may be gone by then): an
        outage is the session's to handle, which sees it on its own next command."""
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, RedisUnavailable):
            log.error("a dial failed: %r", exc)

    async def _warm_up(self) -> None:
        """Ask Twilio for the account once before dialling: it opens the HTTP connection (the
        first create otherwise spends ~50 ms on it, and the calls due meanwhile go out in a
        clump) and stops a run whose credentials Twilio refuses before it claims anyone."""
        try:
            await self.provider.account_status()
        except TelephonyError as exc:
            if _refused(exc):
                self.fatal = FatalTelephonyError(
                    str(exc), code=exc.code, status=exc.status, account_refused=True
                )
            else:
                log.warning("account check failed (dialling anyway): %s", exc)

    async def _window_closed(self) -> bool:
        """Whether the calling window is closed for every contact, judged from the campaign's
        distinct time-zone sets (a few dozen at most) every `_GATE_S`: a closed window costs
        nothing per contact, however long the list."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._gate_at >= _GATE_S:
            self._gate_at = loop.time()
            window = self.options.window
            zone_sets = await self.store.zone_sets() if window.enforced else None
            if zone_sets is None:
                self.closed_until = None
            else:
                now = self.clock()
                opens = window.next_open_any(zone_sets, now)
                self.closed_until = None if opens == now else opens or now + timedelta(days=8)
        return self.closed_until is not None and self.clock() < self.closed_until

    async def _claim(self) -> list[tuple[str, dict[str, str]]]:
        """Claim a batch; returns those inside their calling window, with their contacts."""
        ids = await self.store.claim(
            limit=self._claim_batch,
            max_concurrent=self.options.max_concurrent,
            lease_ms=self.options.lease_ms,
            worker=self.worker_id,
        )
        if not ids:
            return []
        batch = []
        for contact, on_dnc in await self.store.claimed_contacts(ids):
            contact_id = contact["contact_id"]
            if on_dnc:
                await self._skip_do_not_call(contact_id, contact)
            elif await self._in_window(contact_id, contact):
                batch.append((contact_id, contact))
        return batch

    async def _skip_do_not_call(self, contact_id: str, contact: dict[str, str]) -> None:
        """The number asked not to be called (in any campaign) after this list was imported."""
        await self.store.release(
            contact_id, state=ContactState.DO_NOT_CALL, due_ms=None, reason="do_not_call"
        )
        self._audit("call_skipped", contact_id, contact, reason="do_not_call")

    async def _in_window(self, contact_id: str, contact: dict[str, str]) -> bool:
        zones = [z for z in contact.get("timezones", "").split(",") if z]
        now = self.clock()
        window = self.options.window
        if window.is_open(zones, now):
            return True
        opens = window.next_open(zones, now) or now + timedelta(days=1)
        await self.store.release(
            contact_id,
            state=ContactState.WAITING_WINDOW,
            due_ms=int(opens.timestamp() * 1000),
            reason="outside window",
        )
        self._audit(
            "call_skipped",
            contact_id,
            contact,
            reason="outside calling window",
            next_try=opens.isoformat(timespec="minutes"),
        )
        return False

    def _audit(self, what: str, contact_id: str, contact: dict[str, str], **fields: str) -> None:
        if self.audit is not None:
            self.audit.record(
                what,
                campaign=self.options.name,
                contact_id=contact_id,
                phone_hash=contact.get("phone_hash"),
                **fields,
            )

    async def _dial(
        self, contact_id: str, contact: dict[str, str], slot: float | None = None
    ) -> None:
        if slot is not None and await self._missed(contact_id, slot):
            return
        urls = voice_urls(self.public_url, self.options.name, contact_id)
        request = CallRequest(
            to=contact["e164"],
            from_=self.options.from_number,
            url=urls["url"],
            status_callback=urls["status_callback"],
            amd_callback=urls["amd_callback"],
            timeout_s=self.options.ring_timeout_s,
            time_limit_s=self.options.time_limit_s,
            record=self.options.record,
        )
        claimed_ms = int(contact.get("claimed_at") or time.time() * 1000)
        claimed_at = datetime.fromtimestamp(claimed_ms / 1000, UTC)
        try:
            placed = await self._place(request, claimed_at=claimed_at)
        except TelephonyError as exc:
            await self._create_failed(contact_id, exc)
            self._audit("call_not_placed", contact_id, contact, reason=str(exc)[:200])
            return
        self.placed += 1
        self._started.inc()
        self._remember_live(contact_id, placed.sid)
        await shielded(self._recorder.record(contact_id, placed.sid, placed.queue_time_ms))
        self._audit(
            "call_placed",
            contact_id,
            contact,
            call_id=placed.sid,
            attempt=contact.get("attempts", ""),
        )

    async def _missed(self, contact_id: str, slot: float) -> bool:
        """Whether this call's task began too late after its pace slot (the process was not
        scheduled in between, on a loaded machine) to be sent without bunching: then its
        contact goes back, due now, without counting an attempt. The last look before the
        create: what remains is the SDK writing the request."""
        late = asyncio.get_running_loop().time() - slot
        if late <= late_limit_s(self.pacer.interval_s):
            return False
        self.skipped_slots += 1
        await self.store.release(
            contact_id,
            state=ContactState.PENDING,
            due_ms=int(time.time() * 1000),
            reason="pace slot missed",
        )
        return True

    def _remember_live(self, contact_id: str, call_sid: str) -> None:
        now = asyncio.get_running_loop().time()
        oldest = next(iter(self._live.values()), None)
        if oldest is not None and now - oldest[1] > self._live_for_s:
            self._live = {s: v for s, v in self._live.items() if now - v[1] <= self._live_for_s}
        self._live[call_sid] = (contact_id, now)

    def calls_maybe_live(self) -> list[tuple[str, str]]:
        """(contact_id, call_sid) of the calls this process placed that may still be going."""
        return [(contact_id, sid) for sid, (contact_id, _) in self._live.items()]

    async def _place(self, request: CallRequest, *, claimed_at: datetime) -> PlacedCall:
        """Create the call, retrying a retryable failure with capped, jittered backoff
        (tenacity, set up only after a first failure, which it replays as its own first
        attempt: almost every create succeeds at once, and the retry machinery was a tenth of
        the dialler's time per call).

        A create whose outcome is unknown (a timeout or a dropped connection after the request
        went out, a 5xx) is never repeated blind: before the next try, Twilio is asked for
        calls to the number since the claim, and one found is adopted."""
        try:
            return await self.provider.place_call(request)
        except TelephonyError as exc:
            failure: TelephonyError | None = exc
            unknown = exc.outcome_unknown
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.create_attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=8),
            reraise=True,
        ):
            with attempt:
                if failure is not None:
                    replay, failure = failure, None
                    raise replay
                if unknown and (found := await self._placed_already(request, claimed_at)):
                    return found
                try:
                    return await self.provider.place_call(request)
                except TelephonyError as exc:
                    unknown = exc.outcome_unknown
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _placed_already(self, request: CallRequest, since: datetime) -> PlacedCall | None:
        """The call an earlier create whose answer was lost placed after all, if any. When
        Twilio cannot be asked, the create's fate stays unknown: give up on this try (the
        contact keeps its lease, and the reconciler asks again before anyone dials it)."""
        try:
            calls = await self.provider.calls_to(request.to, since=since - _CLOCK_SKEW)
        except TelephonyError as exc:
            raise TelephonyError(
                f"create outcome unknown and Twilio cannot be asked: {exc}",
                outcome_unknown=True,
            ) from exc
        if not calls:
            return None
        log.warning("a create that timed out had placed call %s: adopted", calls[0].sid)
        return PlacedCall(sid=calls[0].sid, queue_time_ms=None)

    async def _create_failed(self, contact_id: str, exc: TelephonyError) -> None:
        hashed = self.store.name, contact_id
        if exc.outcome_unknown:
            # A call may be ringing: keep the contact leased, and let the lease run out soon so
            # the reconciler asks Twilio (adopting the call, or freeing the contact) first.
            log.warning("contact %s/%s: create outcome unknown: %s", *hashed, exc)
            await self.store.expire_lease(contact_id, in_ms=_UNKNOWN_RECHECK_MS)
            return
        if _refused(exc):
            self.fatal = FatalTelephonyError(
                str(exc), code=exc.code, status=exc.status, account_refused=True
            )
            await self.store.release(
                contact_id,
                state=ContactState.PENDING,
                due_ms=int(time.time() * 1000),
                reason="account refused",
            )
            return
        if exc.number_invalid:
            log.info("contact %s/%s: number refused by Twilio (%s)", *hashed, exc.code)
            await self.store.release(
                contact_id,
                state=ContactState.INVALID,
                due_ms=None,
                reason=f"twilio {exc.code}",
                placed=True,
            )
            return
        if exc.retryable:
            log.warning("contact %s/%s: call not placed, retrying later: %s", *hashed, exc)
            due = int(time.time() * 1000) + 30_000
            await self.store.release(
                contact_id, state=ContactState.RETRY_WAIT, due_ms=due, reason=str(exc)[:200]
            )
            return
        log.warning("contact %s/%s: call refused: %s", *hashed, exc)
        await self.store.release(
            contact_id, state=ContactState.FAILED, due_ms=None, reason=str(exc)[:200], placed=True
        )
