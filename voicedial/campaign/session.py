"""One worker's session on a campaign: the dial loop, the outbox loop and the audit writer as
tasks, a monitor that decides when to stop, then letting calls finish and draining the outbox.
`campaign run` and `worker` both run one; `serve` runs the callback server alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from voicedial.campaign import abandoned
from voicedial.campaign.importer import ImportSummary
from voicedial.campaign.reconcile import Reconciler
from voicedial.delivery.audit import Audit
from voicedial.delivery.outboxes import Outboxes
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import WebhookSender
from voicedial.dialing.dialer import Dialer
from voicedial.dialing.pacing import Pacer
from voicedial.dialing.provider import CallProvider
from voicedial.errors import RedisOutage, VoicedialError
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.settings import Settings
from voicedial.state.leases import Leases
from voicedial.state.outbox import OutboxQueue
from voicedial.state.pace import PaceBucket
from voicedial.state.retention import mark_finished
from voicedial.state.snapshot import snapshot
from voicedial.state.states import ACTIVE_STATES, ContactState
from voicedial.state.store import CampaignStore

__all__ = [
    "EXIT_DONE",
    "EXIT_WORK_LEFT",
    "Limits",
    "Reporter",
    "run_session",
    "signals",
    "worker_id",
]

EXIT_DONE = 0
EXIT_WORK_LEFT = 75
_MONITOR_S = 0.1
_RECONCILE_S = 5.0
_HEARTBEAT_S = 2.0


class Reporter(Protocol):
    """What the campaign tells the person (or cron) watching: the CLI's live view or logs."""

    def notice(self, message: str) -> None:
        """A one-line message."""

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        """Import progress."""

    def update(self, status: dict[str, Any]) -> None:
        """A fresh status snapshot while dialling."""

    def finished(self, status: dict[str, Any], exit_code: int) -> None:
        """The run is over: the last snapshot and the exit code."""


@dataclass(frozen=True)
class Limits:
    """When a session stops: after `max_duration_s`, when nothing is due within `idle_exit_s`;
    then how long it keeps delivering pending profiles (`drain_s`). `clock` is the time calling
    windows are judged by."""

    max_duration_s: float | None = None
    idle_exit_s: float = 300.0
    drain_s: float = 30.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _remaining(counts: dict[str, int]) -> int:
    return sum(counts.get(s, 0) for s in ACTIVE_STATES)


def _live_calls(counts: dict[str, int]) -> int:
    return counts.get(ContactState.DIALLING, 0) + counts.get(ContactState.IN_CALL, 0)


def worker_id() -> str:
    """A name for this process among the campaign's workers."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@contextlib.asynccontextmanager
async def signals(stop: asyncio.Event, hard_stop: asyncio.Event) -> AsyncIterator[None]:
    """First SIGINT/SIGTERM: stop dialling and let calls finish. Second: stop now."""
    loop = asyncio.get_running_loop()

    def handler() -> None:
        if stop.is_set():
            hard_stop.set()
        stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_session(
    settings: Settings,
    options: CampaignOptions,
    limits: Limits,
    reporter: Reporter,
    *,
    store: CampaignStore,
    provider: CallProvider,
    storage: Storage,
    public_url: str,
    worker: str,
    metrics: Metrics,
    recordings: RecordingFetcher | None,
) -> int:
    """One worker's dialling: the dial loop and the outbox loop as tasks, the monitor deciding
    when to stop, then letting calls finish and draining the outbox (bounded).

    Redis unreachable for longer than the grace (`RedisOutage`): the calls this process placed
    are hung up and remembered on disk (the next session puts their contacts back), and the
    error goes up (exit 75)."""
    audit = Audit(storage, campaign=options.name, worker=worker)
    dialer = Dialer(
        store=store,
        options=options,
        provider=provider,
        pacer=Pacer(
            PaceBucket(store.redis, account_sid=options.account_sid),
            cps=options.cps,
            burst=options.burst,
        ),
        public_url=public_url,
        worker_id=worker,
        clock=limits.clock,
        metrics=metrics,
        audit=audit,
    )
    sender = WebhookSender.from_settings(settings)
    if options.webhook_url and not sender.secret:
        reporter.notice(
            "VOICEDIAL_WEBHOOK_SECRET is not set: webhooks are dead-lettered until "
            "it is (then run replay-outbox)"
        )
    outbox = Outboxes(
        [OutboxQueue(store.redis, options.name, part.index) for part in await store.partitions()],
        storage=storage,
        consumer=worker,
        sender=sender,
        audit=audit,
        recordings=recordings,
    )
    await outbox.ensure_group()
    reconciler = Reconciler(
        store=store,
        options=options,
        provider=provider,
        leases=Leases(store.redis, options.name),
        worker_id=worker,
    )
    await reconciler.heartbeat()
    await _put_back_abandoned(settings, store, reconciler.leases)
    await reconciler.run_once()
    try:
        return await _dial_and_deliver(
            options, limits, reporter, store, provider, dialer, outbox, reconciler, audit
        )
    except RedisOutage as exc:
        hung_up = await _hang_up_after_outage(dialer, provider)
        abandoned.remember(settings.home, options.name, worker=worker, calls=hung_up)
        with contextlib.suppress(VoicedialError):
            await audit.flush()  # the audit trail is in storage, not Redis
        raise RedisOutage(
            f"{exc}; {len(hung_up)} call(s) in progress hung up, their contacts go back in "
            "the queue: run again once Redis is back"
        ) from None
    finally:
        await sender.aclose()
        if recordings is not None:
            await recordings.aclose()


async def _dial_and_deliver(
    options: CampaignOptions,
    limits: Limits,
    reporter: Reporter,
    store: CampaignStore,
    provider: CallProvider,
    dialer: Dialer,
    outbox: Outboxes,
    reconciler: Reconciler,
    audit: Audit,
) -> int:
    """The session's tasks, from the first claim to the last delivery; the exit code."""
    stop, hard_stop, stop_outbox = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    left = 0
    try:
        async with signals(stop, hard_stop):
            tasks = [
                asyncio.create_task(dialer.run(stop)),
                asyncio.create_task(outbox.run(stop_outbox)),
                asyncio.create_task(audit.run(stop_outbox)),
            ]
            code = await _monitor(store, limits, reporter, dialer, reconciler, stop, tasks)
            stop.set()
            await tasks[0]
            await _wait_calls(
                store, hard_stop, provider, reconciler, timeout_s=options.time_limit_s + 60
            )
            stop_outbox.set()
            await tasks[1]
            left = await outbox.drain(limits.drain_s)
            await tasks[2]
            await audit.flush()
            if left:
                reporter.notice(
                    f"{left} profile event(s) still pending: the next run, a worker "
                    "or replay-outbox delivers them"
                )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if dialer.fatal is not None:
        raise dialer.fatal
    # Done means nothing left to dial and every event stored and delivered or dead-lettered:
    # a profile still only in Redis (storage or the receiver down) is work left.
    remaining = _remaining(await store.counts())
    done = remaining == 0 and code == EXIT_DONE and left == 0
    if done:
        await mark_finished(store.redis, store.name, retain_s=options.retain_s)
    return EXIT_DONE if done else EXIT_WORK_LEFT


async def _put_back_abandoned(settings: Settings, store: CampaignStore, leases: Leases) -> None:
    """What an earlier session left when Redis was gone (`abandoned`): its hung-up calls
    marked interrupted, its worker retired; the reconciler then settles them at once, their
    contacts back in the queue."""
    left = abandoned.take(settings.home, store.name)
    try:
        if left.calls:
            await store.mark_interrupted(left.calls)
        for worker in left.workers:
            await leases.retire(worker)
    except BaseException:
        for worker in left.workers:
            abandoned.remember(settings.home, store.name, worker=worker, calls=left.calls)
            left.calls = []
        raise


async def _hang_up_after_outage(dialer: Dialer, provider: CallProvider) -> list[tuple[str, str]]:
    """Hang up every call this process placed that may still be going (bounded in time: the
    carrier may be slow too). Returns them as (contact_id, call_sid)."""
    calls = dialer.calls_maybe_live()
    limit = asyncio.Semaphore(16)

    async def hang_up(sid: str) -> None:
        async with limit:
            with contextlib.suppress(VoicedialError):
                await provider.hangup(sid)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*(hang_up(sid) for _, sid in calls))
    return calls


async def _monitor(
    store: CampaignStore,
    limits: Limits,
    reporter: Reporter,
    dialer: Dialer,
    reconciler: Reconciler,
    stop: asyncio.Event,
    workers: list[asyncio.Task[Any]],
) -> int:
    """Watch the campaign; decide when this run ends and with which exit code. A worker task
    that dies ends the run at once with its error (a dialler without an outbox would pile up
    undelivered profiles)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_reconcile = last_beat = started
    last_report = 0.0
    while True:
        now = loop.time()
        if now - last_beat >= _HEARTBEAT_S:
            await reconciler.heartbeat()
            last_beat = now
        for task in workers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                stop.set()
                raise task.exception()  # type: ignore[misc]
        if now - last_report >= 0.25:
            reporter.update(await snapshot(store.redis, store.name))
            last_report = now
        if stop.is_set():
            return EXIT_WORK_LEFT
        if dialer.fatal is not None:
            return EXIT_WORK_LEFT
        if limits.max_duration_s is not None and now - started >= limits.max_duration_s:
            reporter.notice("--max-duration reached: no new calls")
            return EXIT_WORK_LEFT
        if now - last_reconcile >= _RECONCILE_S:
            await reconciler.run_once()
            last_reconcile = now
        counts, next_due = await store.view()
        remaining = _remaining(counts)
        if remaining == 0:
            return EXIT_DONE
        if _live_calls(counts) == 0:
            closed = dialer.closed_until
            opens_by = limits.clock() + timedelta(seconds=limits.idle_exit_s)
            if closed is not None and closed > opens_by:
                when = closed.astimezone(UTC).isoformat(timespec="minutes")
                reporter.notice(f"calling window closed for every contact; it opens at {when}")
                return EXIT_WORK_LEFT
            horizon = time.time() * 1000 + limits.idle_exit_s * 1000
            if await store.control() == "cancelled":
                return EXIT_WORK_LEFT
            if next_due is None or next_due > horizon:
                when = (
                    "never"
                    if next_due is None
                    else datetime.fromtimestamp(next_due / 1000, UTC).isoformat(timespec="minutes")
                )
                reporter.notice(f"nothing due now; next contact due {when}")
                return EXIT_WORK_LEFT
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), _MONITOR_S)


async def _wait_calls(
    store: CampaignStore,
    hard_stop: asyncio.Event,
    provider: CallProvider,
    reconciler: Reconciler,
    *,
    timeout_s: float,
) -> None:
    """Let calls in progress finish; on a second interrupt, hang them up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    hung_up = False
    last_beat = loop.time()
    while loop.time() < deadline:
        if loop.time() - last_beat >= _HEARTBEAT_S:
            await reconciler.heartbeat()
            last_beat = loop.time()
        counts = await store.counts()
        if _live_calls(counts) == 0:
            return
        if hard_stop.is_set() and not hung_up:
            hung_up = True
            await _hang_up_all(store, reconciler.leases, provider)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hard_stop.wait() if not hung_up else asyncio.sleep(0.1), 0.1)


async def _hang_up_all(store: CampaignStore, leases: Leases, provider: CallProvider) -> None:
    """A second interrupt: hang up every call in progress, its contact put back in the queue."""
    held = [contact_id for contact_id, _ in await leases.held()]
    live = ContactState.DIALLING, ContactState.IN_CALL
    calls = [
        (contact["contact_id"], sid)
        for contact in await store.contacts(held)
        if (sid := contact.get("last_call_sid")) and contact.get("state") in live
    ]
    await store.mark_interrupted(calls)
    for _, sid in calls:
        with contextlib.suppress(VoicedialError):
            await provider.hangup(sid)
