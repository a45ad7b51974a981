"""The outboxes of a campaign's partitions, consumed together.

Settling a call queues its event in the call's partition (one atomic script on one hash tag),
so a campaign has one outbox stream per partition. A consumer process runs one `Outbox` per
partition, each a consumer of that stream's group under the same name; they share the storage,
webhook sender, audit writer and recording fetcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from voicedial.delivery.audit import Audit
from voicedial.delivery.outbox import Outbox
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import WebhookSender
from voicedial.state.outbox import OutboxQueue

__all__ = ["Outboxes"]


class Outboxes:
    """One `Outbox` per partition of a campaign, run, drained and counted as one."""

    def __init__(
        self,
        queues: Sequence[OutboxQueue],
        *,
        storage: Storage,
        consumer: str,
        sender: WebhookSender | None = None,
        audit: Audit | None = None,
        recordings: RecordingFetcher | None = None,
    ) -> None:
        if not queues:
            raise ValueError("a campaign has at least one partition")
        self.recordings = recordings
        self.parts = [
            Outbox(
                queue=queue,
                storage=storage,
                consumer=consumer,
                sender=sender,
                audit=audit,
                recordings=recordings,
            )
            for queue in queues
        ]

    @property
    def handled(self) -> int:
        """Events finished so far by this process, over every partition."""
        return sum(part.handled for part in self.parts)

    async def ensure_group(self) -> None:
        """Create every partition's consumer group (and stream) if missing."""
        for part in self.parts:
            await part.ensure_group()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume every partition until `stop` is set; the first to fail ends the others."""
        tasks = [asyncio.create_task(part.run(stop)) for part in self.parts]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, timeout_s: float) -> int:
        """Drain every partition at once for at most `timeout_s`; returns what is left."""
        return sum(await asyncio.gather(*(part.drain(timeout_s) for part in self.parts)))

    async def pending(self) -> int:
        """Events not yet done, over every partition."""
        return sum(await asyncio.gather(*(part.pending() for part in self.parts)))
