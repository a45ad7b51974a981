"""`campaign run`, `worker` and `serve`: one event loop owning Redis, the callback server, the
emulator (with --provider sim), the dial loop, the outbox loop and the view, started and stopped
by one `async with`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis

from voicedial.callbacks.server import CallbackServer
from voicedial.campaign.importer import ImportSummary, import_csv
from voicedial.campaign.reconcile import Reconciler
from voicedial.delivery.audit import Audit
from voicedial.delivery.outbox import Outbox
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage, open_storage
from voicedial.delivery.webhooks import WebhookSender
from voicedial.dialing.account import Account, account_for
from voicedial.dialing.dialer import Dialer
from voicedial.dialing.pacing import Pacer
from voicedial.dialing.twilio import TwilioProvider
from voicedial.errors import UsageError, VoicedialError
from voicedial.http import BackgroundServer, bind_socket
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.settings import Settings
from voicedial.state.connect import open_redis
from voicedial.state.keys import ACTIVE_STATES
from voicedial.state.snapshot import snapshot
from voicedial.state.store import CampaignStore

__all__ = [
    "EXIT_DONE",
    "EXIT_WORK_LEFT",
    "Reporter",
    "RunRequest",
    "run_campaign",
    "run_server",
    "run_worker",
]

log = logging.getLogger("voicedial.campaign.run")
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


@dataclass
class RunRequest:
    """Everything `campaign run` was asked to do."""

    csv: Path
    options: CampaignOptions
    dnc: Path | None = None
    max_duration_s: float | None = None
    dry_run: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    personas: Path | None = None
    sim_speed: float = 20.0
    sim_seed: int = 0
    idle_exit_s: float = 300.0
    drain_s: float = 30.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _openai(settings: Settings) -> dict[str, Any]:
    """The callback server's model settings (used by campaigns with --agent openai)."""
    key = settings.openai_api_key
    return {
        "openai_api_key": key.get_secret_value() if key else None,
        "openai_base_url": settings.openai_base_url,
        "openai_model": settings.openai_model,
    }


def worker_id() -> str:
    """A name for this process among the campaign's workers."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@contextlib.asynccontextmanager
async def _signals(stop: asyncio.Event, hard_stop: asyncio.Event) -> AsyncIterator[None]:
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


def _load_dnc(path: Path | None, region: str) -> set[str]:
    if path is None:
        return set()
    from voicedial.contacts.dnc import load_dnc

    return load_dnc(path, region=region)


async def run_campaign(settings: Settings, request: RunRequest, reporter: Reporter) -> int:
    """Import the list, then dial until done, out of window, out of time, or interrupted."""
    options = request.options
    account = account_for(settings, options.provider)
    storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
    hash_key = settings.hash_key()
    dnc = _load_dnc(request.dnc, options.region)
    async with open_redis(settings) as redis:
        store = CampaignStore(redis, options.name)
        summary = await import_csv(
            store,
            request.csv,
            region=options.region,
            hash_key=hash_key,
            dnc=dnc,
            rejects_dir=settings.home / "rejects",
            dry_run=request.dry_run,
            progress=lambda s: reporter.imported(s, final=False),
        )
        reporter.imported(summary, final=True)
        if request.dry_run:
            reporter.notice(f"dry run: {summary.added} contact(s) would be added; nothing dialled")
            return EXIT_DONE
        await store.save_meta(options.model_dump(mode="json"))
        return await _dial_campaign(settings, request, reporter, redis, store, account, storage)


async def _dial_campaign(
    settings: Settings,
    request: RunRequest,
    reporter: Reporter,
    redis: Redis,
    store: CampaignStore,
    account: Account,
    storage: Storage,
) -> int:
    options = request.options
    me = worker_id()
    sock = bind_socket(request.host, request.port)
    public_url = settings.public_url or f"http://{request.host}:{sock.getsockname()[1]}"
    servers: list[BackgroundServer] = []
    server: CallbackServer | None = None
    provider: TwilioProvider | None = None
    emulator = None
    api_url = None
    try:
        if account.sim:
            emulator, emu_server = await _start_emulator(request, account)
            servers.append(emu_server)
            api_url = f"http://127.0.0.1:{emu_server.port}"
            reporter.notice(f"emulator on {api_url}")
        provider = account.provider(api_url)
        metrics = Metrics()
        server = CallbackServer(
            redis=redis,
            auth_token=account.token,
            public_url=public_url,
            provider=provider,
            metrics=metrics,
            **_openai(settings),
        )
        callback_server = BackgroundServer(server.app, sock)
        servers.append(callback_server)
        await callback_server.start()
        reporter.notice(f"callbacks at {public_url}")
        code = await _session(
            settings,
            request,
            reporter,
            store,
            provider,
            storage,
            public_url=public_url,
            worker=me,
            metrics=metrics,
        )
        reporter.finished(await snapshot(redis, options.name), code)
        return code
    finally:
        if server is not None:
            await server.aclose()
        if provider is not None:
            await provider.aclose()
        if emulator is not None:
            await emulator.aclose()
        for background in reversed(servers):
            await background.stop()
        sock.close()


async def _session(
    settings: Settings,
    request: RunRequest,
    reporter: Reporter,
    store: CampaignStore,
    provider: TwilioProvider,
    storage: Storage,
    *,
    public_url: str,
    worker: str,
    metrics: Metrics,
) -> int:
    account_token, api_url = provider.auth_token, provider.api_url
    """One worker's dialling: the dial loop and the outbox loop as tasks, the monitor deciding
    when to stop, then letting calls finish and draining the outbox (bounded)."""
    options = request.options
    stop, hard_stop, stop_outbox = asyncio.Event(), asyncio.Event(), asyncio.Event()
    audit = Audit(storage, campaign=options.name, worker=worker)
    dialer = Dialer(
        store=store,
        options=options,
        provider=provider,
        pacer=Pacer(
            store.redis, account_sid=options.account_sid, cps=options.cps, burst=options.burst
        ),
        public_url=public_url,
        worker_id=worker,
        clock=request.clock,
        metrics=metrics,
        audit=audit,
    )
    sender = WebhookSender.from_settings(settings)
    if options.webhook_url and not sender.secret:
        reporter.notice(
            "VOICEDIAL_WEBHOOK_SECRET is not set: webhooks are dead-lettered until "
            "it is (then run replay-outbox)"
        )
    recordings = (
        RecordingFetcher(account_sid=options.account_sid, auth_token=account_token, api_url=api_url)
        if options.record
        else None
    )
    outbox = Outbox(
        redis=store.redis,
        campaign=options.name,
        storage=storage,
        consumer=worker,
        sender=sender,
        audit=audit,
        recordings=recordings,
    )
    await outbox.ensure_group()
    reconciler = Reconciler(store=store, options=options, provider=provider, worker_id=worker)
    await reconciler.heartbeat()
    await reconciler.run_once()
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with _signals(stop, hard_stop):
            tasks = [
                asyncio.create_task(dialer.run(stop)),
                asyncio.create_task(outbox.run(stop_outbox)),
                asyncio.create_task(audit.run(stop_outbox)),
            ]
            code = await _monitor(store, request, reporter, dialer, reconciler, stop, tasks)
            stop.set()
            await tasks[0]
            await _wait_calls(
                store, hard_stop, provider, reconciler, timeout_s=options.time_limit_s + 60
            )
            stop_outbox.set()
            await tasks[1]
            left = await outbox.drain(request.drain_s)
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
        await sender.aclose()
        if recordings is not None:
            await recordings.aclose()
    if dialer.fatal is not None:
        raise dialer.fatal
    counts = await store.counts()
    remaining = sum(counts.get(s, 0) for s in ACTIVE_STATES)
    return EXIT_DONE if remaining == 0 and code == EXIT_DONE else EXIT_WORK_LEFT


async def _start_emulator(request: RunRequest, account: Account) -> tuple[Any, BackgroundServer]:
    from voicedial.emulator import Emulator, load_personas

    personas_path = request.personas
    if personas_path is None:
        beside = request.csv.with_name("personas.jsonl")
        personas_path = beside if beside.exists() else None
    personas = load_personas(personas_path) if personas_path else {}
    emulator = Emulator(
        account_sid=account.sid,
        auth_token=account.token,
        personas=personas,
        seed=request.sim_seed,
        speed=request.sim_speed,
    )
    server = BackgroundServer(emulator.app, bind_socket("127.0.0.1", 0))
    await server.start()
    return emulator, server


async def _monitor(
    store: CampaignStore,
    request: RunRequest,
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
        if request.max_duration_s is not None and now - started >= request.max_duration_s:
            reporter.notice("--max-duration reached: no new calls")
            return EXIT_WORK_LEFT
        if now - last_reconcile >= _RECONCILE_S:
            await reconciler.run_once()
            last_reconcile = now
        counts = await store.counts()
        remaining = sum(counts.get(s, 0) for s in ACTIVE_STATES)
        if remaining == 0:
            return EXIT_DONE
        if counts.get("dialling", 0) + counts.get("in_call", 0) == 0:
            next_due = await store.next_due_ms()
            horizon = time.time() * 1000 + request.idle_exit_s * 1000
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
    provider: Any,
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
        if counts.get("dialling", 0) + counts.get("in_call", 0) == 0:
            return
        if hard_stop.is_set() and not hung_up:
            hung_up = True
            await _hang_up_all(store, provider)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hard_stop.wait() if not hung_up else asyncio.sleep(0.1), 0.1)


async def _hang_up_all(store: CampaignStore, provider: Any) -> None:
    ids = await store.redis.zrange(store.keys.inflight, 0, -1)
    for raw in ids:
        contact = await store.contact(raw.decode())
        sid = contact.get("last_call_sid")
        if sid and contact.get("state") in ("dialling", "in_call"):
            with contextlib.suppress(VoicedialError):
                await provider.hangup(sid)


async def run_server(
    settings: Settings, *, host: str, port: int, provider: str | None, reporter: Reporter
) -> int:
    """`voicedial serve`: the callback server (and outbox delivery) alone, until interrupted."""
    account = account_for(settings, provider)
    if account.sim:
        raise UsageError(
            "voicedial serve needs Twilio credentials: the emulator only calls the "
            "server of the campaign run that started it"
        )
    async with open_redis(settings) as redis:
        sock = bind_socket(host, port)
        public_url = settings.public_url or f"http://{host}:{sock.getsockname()[1]}"
        provider = account.provider()
        server = CallbackServer(
            redis=redis,
            auth_token=account.token,
            public_url=public_url,
            provider=provider,
            **_openai(settings),
        )
        stop, hard = asyncio.Event(), asyncio.Event()
        background = BackgroundServer(server.app, sock)
        await background.start()
        reporter.notice(f"callbacks at {public_url}")
        try:
            async with _signals(stop, hard):
                await stop.wait()
            await background.stop()
        finally:
            await provider.aclose()
    return EXIT_DONE


async def run_worker(
    settings: Settings, name: str, reporter: Reporter, *, max_duration_s: float | None = None
) -> int:
    """`voicedial worker NAME`: one more dialling worker on a campaign started elsewhere."""
    async with open_redis(settings) as redis:
        store = CampaignStore(redis, name)
        raw = await store.options()
        if raw is None:
            raise UsageError(f"no campaign named {name!r}: start it with `voicedial campaign run`")
        options = CampaignOptions.model_validate(raw)
        account = account_for(settings, options.provider)
        if account.sim:
            raise UsageError(
                "an emulated campaign has no second worker: its emulator lives in "
                "the `campaign run` process"
            )
        if not settings.public_url:
            raise UsageError(
                "voicedial worker needs VOICEDIAL_PUBLIC_URL (the campaign's callback server)"
            )
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        request = RunRequest(csv=Path("-"), options=options, max_duration_s=max_duration_s)
        provider = account.provider()
        try:
            code = await _session(
                settings,
                request,
                reporter,
                store,
                provider,
                storage,
                public_url=settings.public_url,
                worker=worker_id(),
                metrics=Metrics(),
            )
        finally:
            await provider.aclose()
        reporter.finished(await snapshot(redis, name), code)
        return code
