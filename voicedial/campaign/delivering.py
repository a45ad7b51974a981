"""Delivery for every campaign, from a process that dials none: `voicedial serve` runs an outbox
consumer (and an audit writer) for each campaign Redis knows, picking up new ones as they
appear. Consumers of one campaign's group share its events (each taken by one), so any number
of servers and workers may deliver side by side; what a stopped one held is taken over."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from voicedial.campaign.run import recordings_for
from voicedial.delivery.audit import Audit
from voicedial.delivery.outboxes import Outboxes
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import WebhookSender
from voicedial.dialing.account import Account
from voicedial.errors import VoicedialError
from voicedial.options import CampaignOptions
from voicedial.settings import Settings
from voicedial.state.connect import RedisClient
from voicedial.state.outbox import OutboxQueue
from voicedial.state.snapshot import campaign_names
from voicedial.state.store import CampaignStore

__all__ = ["deliver_every_campaign"]

log = logging.getLogger("voicedial.campaign.delivering")
_DISCOVER_S = 10.0
_DRAIN_S = 10.0


@dataclass
class _Consumer:
    outbox: Outboxes
    audit: Audit
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def deliver_every_campaign(
    settings: Settings,
    redis: RedisClient,
    storage: Storage,
    account: Account,
    stop: asyncio.Event,
    *,
    worker: str,
) -> None:
    """Until `stop`: an outbox consumer per campaign (restarted if one fails); then each
    drains what it can in a few seconds and flushes its audit."""
    sender = WebhookSender.from_settings(settings)
    running: dict[str, _Consumer] = {}
    try:
        while not stop.is_set():
            for name in await campaign_names(redis):
                current = running.get(name)
                if current is not None and not any(t.done() for t in current.tasks):
                    continue
                if current is not None:
                    await _stop(current, drain_s=0)
                raw = await CampaignStore(redis, name).options()
                if raw is None:
                    continue
                options = CampaignOptions.model_validate(raw)
                running[name] = await _start(options, redis, storage, sender, account, worker)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _DISCOVER_S)
    finally:
        for consumer in running.values():
            await _stop(consumer, drain_s=_DRAIN_S)
        await sender.aclose()


async def _start(
    options: CampaignOptions,
    redis: RedisClient,
    storage: Storage,
    sender: WebhookSender,
    account: Account,
    worker: str,
) -> _Consumer:
    audit = Audit(storage, campaign=options.name, worker=worker)
    count = await CampaignStore(redis, options.name).saved_partitions() or 1
    outbox = Outboxes(
        [OutboxQueue(redis, options.name, k) for k in range(count)],
        storage=storage,
        consumer=worker,
        sender=sender,
        audit=audit,
        recordings=recordings_for(options, account),
    )
    await outbox.ensure_group()
    consumer = _Consumer(outbox, audit)
    consumer.tasks = [
        asyncio.create_task(outbox.run(consumer.stop)),
        asyncio.create_task(audit.run(consumer.stop)),
    ]
    return consumer


async def _stop(consumer: _Consumer, *, drain_s: float) -> None:
    consumer.stop.set()
    for task in consumer.tasks:
        try:
            await task
        except (VoicedialError, OSError) as exc:  # a failed consumer is restarted, not fatal
            log.warning("outbox consumer stopped: %s", exc)
    with contextlib.suppress(VoicedialError, OSError):
        if drain_s:
            await consumer.outbox.drain(drain_s)
        await consumer.audit.flush()
    if consumer.outbox.recordings is not None:
        await consumer.outbox.recordings.aclose()
