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

from voicedial.callbacks.outcomes import settle_call
from voicedial.dialing.provider import CallProvider, CallState
from voicedial.errors import TelephonyError
from voicedial.options import CampaignOptions
from voicedial.state.leases import Leases
from voicedial.state.states import FINAL_CALL_STATUSES, ContactState
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
        provider: CallProvider,
        leases: Leases,
        worker_id: str,
    ) -> None:
        self.store = store
        self.options = options
        self.provider = provider
        self.leases = leases
        self.worker_id = worker_id

    async def heartbeat(self) -> None:
        """Tell other workers this one is alive (call at least every few seconds)."""
        await self.leases.beat(self.worker_id, ttl_ms=HEARTBEAT_TTL_MS)

    async def _suspects(self, held: list[tuple[str, str]]) -> list[str]:
        expired = set(await self.leases.expired())
        others = {w for _, w in held if w and w != self.worker_id}
        alive = await self.leases.alive(others)
        dead_owned = {cid for cid, w in held if w in others and w not in alive}
        return sorted(expired | dead_owned)

    async def run_once(self) -> int:
        """Settle what can be settled now; returns how many contacts were settled or freed."""
        done = 0
        held = await self.leases.held()  # one read of the leases for both checks
        for contact_id in await self._suspects(held):
            try:
                done += await self._reconcile(contact_id)
            except TelephonyError as exc:
                log.warning("cannot reconcile contact %s yet: %s", contact_id, exc)
        return done + await self._look_up_quiet_calls([contact_id for contact_id, _ in held])

    async def _look_up_quiet_calls(self, held: list[str]) -> int:
        """Calls with no callback for a while (`quiet_after_s`) are looked up at Twilio: one
        whose final status callback was lost is settled now, not when its lease runs out
        (ring timeout + time limit later); a live one is left alone."""
        quiet = await self.store.quiet_calls(
            held,
            ring_ms=self.options.ring_timeout_s * 1000,
            quiet_ms=self.options.quiet_after_s * 1000,
        )
        done = 0
        for contact_id, sid in quiet:
            try:
                remote = await self.provider.fetch(sid)
            except TelephonyError as exc:
                log.warning("cannot look up quiet call %s yet: %s", sid, exc)
                continue
            if await self._settle_ended(contact_id, sid, remote):
                log.warning("call %s ended without its final callback: settled", sid)
                done += 1
        return done

    async def _reconcile(self, contact_id: str) -> int:
        store = self.store
        contact = await store.contact(contact_id)
        if contact.get("state") not in (ContactState.DIALLING, ContactState.IN_CALL):
            await self.leases.drop(contact_id)  # a stale lease
            return 0
        sid = contact.get("last_call_sid")
        if sid and (await store.call(sid, contact_id)).get("final") != "1":
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
            state=ContactState.PENDING,
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
            # Twilio has no such call (the emulator that held it is gone): retry the contact,
            # once, with no profile.
            await settle_call(
                self.store,
                self.options,
                call_sid=sid,
                contact_id=contact_id,
                call_status="failed",
                duration_s=None,
                answered_by=None,
                carrier_lost=True,
            )
            return 1
        if await self._settle_ended(contact_id, sid, remote):
            return 1
        # Still ringing or talking: keep the lease, never overlap it.
        await self.leases.extend(contact_id, for_ms=self.options.lease_ms)
        return 0

    async def _settle_ended(self, contact_id: str, sid: str, remote: CallState) -> bool:
        """Settle the call as its final callback would have, if Twilio says it has ended."""
        if remote.status not in FINAL_CALL_STATUSES:
            return False
        await settle_call(
            self.store,
            self.options,
            call_sid=sid,
            contact_id=contact_id,
            call_status=remote.status,
            duration_s=remote.duration,
            answered_by=remote.answered_by,
        )
        return True
