"""`campaign run`: import the list, then one session of dialling with its own callback server
(and, with --provider sim, the emulator) in this process, all owned by one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicedial.callbacks.server import CallbackServer
from voicedial.campaign.importer import import_csv
from voicedial.campaign.ports import CallbackPort, choose_port
from voicedial.campaign.session import EXIT_DONE, Limits, Reporter, run_session, worker_id
from voicedial.contacts.listfile import inspect
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage, open_storage
from voicedial.dialing.account import Account, account_for
from voicedial.dialing.twilio import TwilioProvider
from voicedial.http import BackgroundServer, bind_socket
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.settings import Settings
from voicedial.state.connect import RedisClient, open_redis
from voicedial.state.identity import shared_hash_key
from voicedial.state.retention import mark_running, sweep
from voicedial.state.snapshot import snapshot
from voicedial.state.store import CampaignStore

__all__ = ["RunRequest", "openai_settings", "recordings_for", "run_campaign"]


@dataclass
class RunRequest:
    """Everything `campaign run` was asked to do."""

    csv: Path
    options: CampaignOptions
    dnc: Path | None = None
    max_duration_s: float | None = None
    dry_run: bool = False
    partitions: int | None = None  # for a new campaign; None: the default for this Redis
    host: str = "127.0.0.1"
    port: int = 8765
    personas: Path | None = None
    sim_speed: float = 20.0
    sim_seed: int = 0
    idle_exit_s: float = 300.0
    drain_s: float = 30.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def limits(self) -> Limits:
        """When this run's session stops."""
        return Limits(
            max_duration_s=self.max_duration_s,
            idle_exit_s=self.idle_exit_s,
            drain_s=self.drain_s,
            clock=self.clock,
        )


def openai_settings(settings: Settings) -> dict[str, Any]:
    """The callback server's model settings (used by campaigns with --agent openai)."""
    key = settings.openai_api_key
    return {
        "openai_api_key": key.get_secret_value() if key else None,
        "openai_base_url": settings.openai_base_url,
        "openai_model": settings.openai_model,
    }


def recordings_for(
    options: CampaignOptions, account: Account, api_url: str | None = None
) -> RecordingFetcher | None:
    """What fetches the recordings of a campaign with --record (None without it)."""
    if not options.record:
        return None
    return RecordingFetcher(
        account_sid=options.account_sid,
        auth_token=account.token,
        api_url=api_url or account.api_url,
    )


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
    dnc = _load_dnc(request.dnc, options.region)
    # The list's layout, before Redis is touched: a list that cannot be read leaves no trace.
    await asyncio.to_thread(inspect, request.csv, needs_phone=True)
    callbacks = (
        None
        if request.dry_run
        else await choose_port(request.host, request.port, public_url=settings.public_url)
    )
    try:
        return await _import_and_dial(settings, request, reporter, account, storage, dnc, callbacks)
    finally:
        if callbacks is not None:
            callbacks.close()


async def _import_and_dial(
    settings: Settings,
    request: RunRequest,
    reporter: Reporter,
    account: Account,
    storage: Storage,
    dnc: set[str],
    callbacks: CallbackPort | None,
) -> int:
    options = request.options
    async with open_redis(settings) as redis:
        hash_key = await shared_hash_key(redis, settings.proposed_hash_key())
        if not request.dry_run:
            for gone in await sweep(redis):
                reporter.notice(f"campaign {gone}: retention passed, its Redis state deleted")
        store = CampaignStore(redis, options.name)
        await store.fix_partitions(
            request.partitions, max_concurrent=options.max_concurrent, save=not request.dry_run
        )
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
        await mark_running(redis, options.name)
        assert callbacks is not None  # set unless a dry run, which has returned
        return await _dial_campaign(
            settings, request, reporter, redis, store, account, storage, callbacks
        )


async def _dial_campaign(
    settings: Settings,
    request: RunRequest,
    reporter: Reporter,
    redis: RedisClient,
    store: CampaignStore,
    account: Account,
    storage: Storage,
    callbacks: CallbackPort,
) -> int:
    options = request.options
    me = worker_id()
    public_url = settings.public_url or f"http://{request.host}:{callbacks.port}"
    if callbacks.note:
        reporter.notice(callbacks.note)
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
        if callbacks.sock is not None:
            server = CallbackServer(
                redis=redis,
                auth_token=account.token,
                public_url=public_url,
                provider=provider,
                metrics=metrics,
                **openai_settings(settings),
            )
            callback_server = BackgroundServer(server.app, callbacks.sock)
            servers.append(callback_server)
            await callback_server.start()
            reporter.notice(f"callbacks at {public_url}")
        code = await run_session(
            settings,
            options,
            request.limits,
            reporter,
            store=store,
            provider=provider,
            storage=storage,
            public_url=public_url,
            worker=me,
            metrics=metrics,
            recordings=recordings_for(options, account, api_url),
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
