"""`replay-outbox`: send webhook events again.

Replay works beside running campaigns: it reads the dead-letter hash and the outbox stream's
history but never consumes from the delivery group, and it removes a dead letter only after a
2xx. Re-sent events keep their `webhook-id`, so receivers can drop duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voicedial.delivery.audit import Audit
from voicedial.delivery.events import DeadLetter, OutboxEvent
from voicedial.delivery.storage import Storage
from voicedial.delivery.webhooks import WebhookRefused, WebhookSender, check_webhook_url
from voicedial.errors import UsageError
from voicedial.state.connect import RedisClient
from voicedial.state.outbox import OutboxQueue
from voicedial.state.partition import saved_count
from voicedial.state.snapshot import campaign_names

__all__ = ["ReplayItem", "ReplayRequest", "ReplaySummary", "replay_outbox"]


@dataclass(frozen=True)
class ReplayRequest:
    """Which events to send again, and where."""

    campaigns: tuple[str, ...] = ()  # empty: every campaign
    event_ids: tuple[str, ...] = ()  # call ids (or webhook ids, msg_<call id>)
    since: datetime | None = None
    all_events: bool = False  # every event in the outbox's history, not only dead letters
    webhook_url: str | None = None  # send here instead of each event's own URL
    default_url: str | None = None  # for events that never had a URL (VOICEDIAL_WEBHOOK_URL)
    dry_run: bool = False


@dataclass(frozen=True)
class ReplayItem:
    """What became of one event: delivered, failed, refused, skipped or (dry run) would_send."""

    campaign: str
    event_id: str
    url: str | None
    outcome: str
    error: str = ""
    was_dead: bool = False


@dataclass
class ReplaySummary:
    """Every event replay looked at, in order."""

    items: list[ReplayItem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Events per outcome."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """True when nothing failed or was refused."""
        return not ({"failed", "refused"} & set(self.counts))


@dataclass
class _Candidate:
    campaign: str
    event: OutboxEvent
    dead: bool
    at: datetime | None
    partition: int = 0  # whose outbox holds it

    @property
    def id(self) -> str:
        return self.event.call_id


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def _history(
    queue: OutboxQueue, campaign: str, since: datetime | None
) -> dict[str, _Candidate]:
    """Every profile event in the outbox stream (latest entry per call), from `since` on."""
    since_ms = int(since.timestamp() * 1000) if since else None
    found: dict[str, _Candidate] = {}
    async for entry_ms, raw in queue.history(since_ms=since_ms):
        event = OutboxEvent.from_json(raw)
        if not event.has_profile:
            continue  # a call settled without a profile: nothing to deliver
        event = event.without_transcript()
        at = _parse_time(event.ended_at) or datetime.fromtimestamp(entry_ms / 1000, UTC)
        found[event.call_id] = _Candidate(campaign, event, False, at, queue.partition)
    return found


async def _select(redis: RedisClient, request: ReplayRequest) -> list[_Candidate]:
    names = list(request.campaigns) or await campaign_names(redis)
    wanted = {i.removeprefix("msg_") for i in request.event_ids}
    chosen: list[_Candidate] = []
    for name in names:
        queues = [OutboxQueue(redis, name, k) for k in range(await saved_count(redis, name) or 1)]
        dead: dict[str, _Candidate] = {}
        for queue in queues:
            for event_id, raw in (await queue.dead_letters()).items():
                letter = DeadLetter.from_json(raw)
                at = _parse_time(letter.event.ended_at) or _parse_time(letter.dead_at)
                dead[event_id] = _Candidate(name, letter.event, True, at, queue.partition)
        picked = dict(dead)
        if request.all_events or (wanted and not wanted <= set(dead)):
            history: dict[str, _Candidate] = {}
            for queue in queues:
                history.update(await _history(queue, name, None if wanted else request.since))
            picked = {**history, **dead}
        for cid, candidate in picked.items():
            if wanted and cid not in wanted:
                continue
            if (
                request.since
                and not wanted
                and (candidate.at is None or candidate.at < request.since)
            ):
                continue
            chosen.append(candidate)
    chosen.sort(key=lambda c: (c.at or datetime.min.replace(tzinfo=UTC), c.id))
    return chosen


async def replay_outbox(
    redis: RedisClient,
    sender: WebhookSender,
    request: ReplayRequest,
    *,
    storage: Storage | None = None,
    on_selected: Callable[[int], None] | None = None,
    on_item: Callable[[ReplayItem], None] | None = None,
) -> ReplaySummary:
    """Send the chosen events again, one attempt each; a delivered dead letter is removed (and
    counted as delivered), a failed one keeps its place with the new error. With `storage`, each
    delivery is written to the audit trail."""
    candidates = await _select(redis, request)
    if request.event_ids and not candidates:
        raise UsageError(f"no event {', '.join(request.event_ids)} in the outbox or dead letters")
    if on_selected is not None:
        on_selected(len(candidates))
    audits: dict[str, Audit] = {}
    summary = ReplaySummary()
    for candidate in candidates:
        item = await _replay_one(redis, sender, request, candidate)
        if storage is not None and item.outcome == "delivered":
            audit = audits.setdefault(
                candidate.campaign, Audit(storage, campaign=candidate.campaign, worker="replay")
            )
            audit.record(
                "webhook_replayed",
                call_id=candidate.id,
                contact_id=candidate.event.contact_id,
                phone_hash=candidate.event.phone_hash,
                was_dead=candidate.dead,
            )
        summary.items.append(item)
        if on_item is not None:
            on_item(item)
    for audit in audits.values():
        await audit.flush()
    return summary


async def _replay_one(
    redis: RedisClient, sender: WebhookSender, request: ReplayRequest, candidate: _Candidate
) -> ReplayItem:
    event = candidate.event
    url = request.webhook_url or event.webhook_url or request.default_url

    def item(outcome: str, error: str = "") -> ReplayItem:
        return ReplayItem(candidate.campaign, candidate.id, url, outcome, error, candidate.dead)

    if not url:
        return item("skipped", "no webhook URL (pass --webhook-url)")
    if request.dry_run:
        try:
            await check_webhook_url(
                url, allow_private=sender.allow_private, resolver=sender.resolver
            )
        except WebhookRefused as exc:
            return item("refused", str(exc))
        return item("would_send")
    result = await sender.send(url, event)
    queue = OutboxQueue(redis, candidate.campaign, candidate.partition)
    if result.ok:
        await queue.replayed(candidate.id, was_dead=candidate.dead)
        return item("delivered")
    if candidate.dead:
        raw = await queue.dead_letter(candidate.id)
        if raw is not None:  # still dead (not delivered meanwhile by another replay)
            letter = DeadLetter.of(
                event,
                error=result.error,
                attempts=DeadLetter.from_json(raw).attempts + 1,
                status=result.status,
                url=url,
            )
            await queue.set_dead_letter(candidate.id, letter.to_json())
    return item("refused" if result.permanent else "failed", result.error)
