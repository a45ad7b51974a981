"""Scale-out: `voicedial serve` (a callback server alone, for any campaign) and `voicedial
worker` (one more dialling session on a campaign started elsewhere)."""

from __future__ import annotations

import asyncio

from voicedial.callbacks.server import CallbackServer
from voicedial.campaign.delivering import deliver_every_campaign
from voicedial.campaign.run import openai_settings, recordings_for
from voicedial.campaign.session import (
    EXIT_DONE,
    Limits,
    Reporter,
    run_session,
    signals,
    worker_id,
)
from voicedial.delivery.storage import open_storage
from voicedial.dialing.account import account_for
from voicedial.errors import UsageError
from voicedial.http import BackgroundServer, bind_socket
from voicedial.metrics import Metrics
from voicedial.options import CampaignOptions
from voicedial.settings import Settings
from voicedial.state.connect import open_redis
from voicedial.state.retention import sweep
from voicedial.state.snapshot import snapshot
from voicedial.state.store import CampaignStore

__all__ = ["run_server", "run_worker"]


async def run_server(
    settings: Settings, *, host: str, port: int, provider: str | None, reporter: Reporter
) -> int:
    """`voicedial serve`: the callback server, and delivery of every campaign's profiles (an
    outbox consumer each), until interrupted."""
    account = account_for(settings, provider)
    if account.sim:
        raise UsageError(
            "voicedial serve needs Twilio credentials: the emulator only calls the "
            "server of the campaign run that started it"
        )
    async with open_redis(settings) as redis:
        sock = bind_socket(host, port)
        public_url = settings.public_url or f"http://{host}:{sock.getsockname()[1]}"
        twilio = account.provider()
        server = CallbackServer(
            redis=redis,
            auth_token=account.token,
            public_url=public_url,
            provider=twilio,
            **openai_settings(settings),
        )
        stop, hard = asyncio.Event(), asyncio.Event()
        background = BackgroundServer(server.app, sock)
        await background.start()
        reporter.notice(f"callbacks at {public_url}; delivering every campaign's profiles")
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        try:
            async with signals(stop, hard):
                delivery = asyncio.create_task(
                    deliver_every_campaign(
                        settings, redis, storage, account, stop, worker=worker_id()
                    )
                )
                await stop.wait()
                await delivery  # lets each consumer drain for a few seconds
            await background.stop()
        finally:
            await server.aclose()
            await twilio.aclose()
    return EXIT_DONE


async def run_worker(
    settings: Settings,
    name: str,
    reporter: Reporter,
    *,
    max_duration_s: float | None = None,
    serve_at: tuple[str, int] | None = None,
) -> int:
    """`voicedial worker NAME`: one more dialling worker on a campaign started elsewhere; with
    `serve_at` (host, port) it also serves callbacks (for its own calls, or any)."""
    async with open_redis(settings) as redis:
        for gone in await sweep(redis):
            reporter.notice(f"campaign {gone}: retention passed, its Redis state deleted")
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
        sock = bind_socket(*serve_at) if serve_at is not None else None
        public_url = settings.public_url or (
            f"http://{serve_at[0]}:{sock.getsockname()[1]}" if serve_at and sock else None
        )
        if not public_url:
            raise UsageError(
                "voicedial worker needs VOICEDIAL_PUBLIC_URL (the campaign's callback server) "
                "or --port to serve its own callbacks"
            )
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        provider = account.provider()
        metrics = Metrics()
        server: CallbackServer | None = None
        background: BackgroundServer | None = None
        try:
            if sock is not None:
                server = CallbackServer(
                    redis=redis,
                    auth_token=account.token,
                    public_url=public_url,
                    provider=provider,
                    metrics=metrics,
                    **openai_settings(settings),
                )
                background = BackgroundServer(server.app, sock)
                await background.start()
                reporter.notice(f"callbacks at {public_url}")
            code = await run_session(
                settings,
                options,
                Limits(max_duration_s=max_duration_s),
                reporter,
                store=store,
                provider=provider,
                storage=storage,
                public_url=public_url,
                worker=worker_id(),
                metrics=metrics,
                recordings=recordings_for(options, account),
            )
        finally:
            if background is not None:
                await background.stop()
            if server is not None:
                await server.aclose()
            await provider.aclose()
            if sock is not None:
                sock.close()
        reporter.finished(await snapshot(redis, name), code)
        return code
