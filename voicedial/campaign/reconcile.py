"""Reconciliation: settling calls whose worker died or whose callbacks were lost, by asking
Twilio what became of them before their contacts are dialled again.

A contact holds a lease while it is dialled. The lease is suspect when it expired (no callback
for longer than a call can last) or when the worker that claimed it stopped sending heartbeats.
Then Twilio is asked: a call that ended is settled as its callbacks would have; a call still
ringing or talking keeps its lease (never overlapped); no call at all frees the contact.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from voicedial.callbacks.outcomes import FINAL_STATUSES, settle_call
from voicedial.dialing.twilio import TwilioProvider
from voicedial.errors import TelephonyError
from voicedial.options import CampaignOptions
from voicedial.state.store import CampaignStore

__all__ = ["HEARTBEAT_TTL_MS", "Reconciler"]

log = logging.getLogger("voicedial.campaign.reconcile")
HEARTBEAT_TTL_MS = 10_000
_CLOCK_SKEW = timedelta(seconds=5)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Reconciler:
    """Heartbeats for one worker, and the settling of other workers' orphaned calls."""

    def __init__(
        self,
        *,
        store: CampaignStore,
        options: CampaignOptions,
        provider: TwilioProvider,
        worker_id: str,
    ) -> None:
        self.store = store
        self.options = options
        self.provider = provider
        self.worker_id = worker_id

    async def heartbeat(self) -> None:
        """Tell other workers this one is alive (call at least every few seconds)."""
        await self.store.redis.set(
            self.store.keys.worker(self.worker_id), _now_ms(), px=HEARTBEAT_TTL_MS
        )

    async def _suspects(self) -> list[str]:
        redis, keys = self.store.redis, self.store.keys
        expired = set(await self.store.expired_leases())
        held = [c.decode() for c in await redis.zrange(keys.inflight, 0, -1)]
        pipe = redis.pipeline(transaction=False)
        for cid in held:
            pipe.hget(keys.contact(cid), "worker")
        workers = [w.decode() if w else "" for w in await pipe.execute()]
        names = sorted({w for w in workers if w and w != self.worker_id})
        pipe = redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(keys.worker(name))
        alive = {n for n, ok in zip(names, await pipe.execute(), strict=True) if ok}
        dead_owned = {
            cid
            for cid, w in zip(held, workers, strict=True)
            if w and w != self.worker_id and w not in alive
        }
        return sorted(expired | dead_owned)

    async def run_once(self) -> int:
        """Settle what can be settled now; returns how many contacts were settled or freed."""
        done = 0
        for contact_id in await self._suspects():
            try:
                done += await self._reconcile(contact_id)
            except TelephonyError as exc:
                log.warning("cannot reconcile contact %s yet: %s", contact_id, exc)
        return done

    async def _reconcile(self, contact_id: str) -> int:
        store = self.store
        contact = await store.contact(contact_id)
        if contact.get("state") not in ("dialling", "in_call"):
            await store.redis.zrem(store.keys.inflight, contact_id)  # a stale lease
            return 0
        sid = contact.get("last_call_sid")
        if sid and (await store.call(sid)).get("final") != "1":
            return await self._settle_known(contact_id, sid)
        # No live call on record: the worker died between its claim and Twilio's answer to
        # the create. Ask Twilio whether a call went out anyway before dialling again.
        claimed = datetime.fromtimestamp(int(contact.get("claimed_at") or 0) / 1000, UTC)
        calls = await self.provider.calls_to(contact["e164"], since=claimed - _CLOCK_SKEW)
        if calls:
            newest = calls[0]
            await store.record_dial(contact_id, newest.sid, lease_ms=self.options.lease_ms)
            return await self._settle_known(contact_id, newest.sid)
        await store.release(
            contact_id,
            state="pending",
            due_ms=_now_ms(),
            reason="worker stopped before the call was placed",
        )
        return 1

    async def _settle_known(self, contact_id: str, sid: str) -> int:
        try:
            remote = await self.provider.fetch(sid)
        except TelephonyError as exc:
            if exc.status != 404:
                raise
            # Twilio has no such call (the emulator that held it is gone): retry the contact.
            await settle_call(
                self.store,
                self.options,
                call_sid=sid,
                contact_id=contact_id,
                call_status="failed",
                duration_s=None,
                answered_by=None,
            )
            return 1
        if remote.status in FINAL_STATUSES:
            await settle_call(
                self.store,
                self.options,
                call_sid=sid,
                contact_id=contact_id,
                call_status=remote.status,
                duration_s=remote.duration,
                answered_by=remote.answered_by,
            )
            return 1
        # Still ringing or talking: keep the lease, never overlap it.
        await self.store.redis.zadd(
            self.store.keys.inflight, {contact_id: _now_ms() + self.options.lease_ms}
        )
        return 0
