"""A campaign's state in Redis: what is campaign-wide, and which partition holds what.

A campaign is split into partitions (`partition.Partition`), each its own hash tag, so a
campaign spreads over the nodes of a Redis Cluster; on one server they are just keys. The count
is fixed when the campaign is created (partition 0's meta, `partitions`; a campaign made before
partitions has one). A contact lives in the partition its id hashes to (`keys.partition_of`) and
its calls live beside it, so whoever holds a contact id (a callback URL carries it) finds both.

Campaign-wide things live in partition 0: the options, the time-zone sets, the control flag
(copied into every partition's meta, where the claim script reads it), workers' heartbeats.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import numpy as np
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from voicedial.contacts.parse import Contact, ContactColumns
from voicedial.errors import UsageError
from voicedial.state import keys
from voicedial.state.cluster import is_cluster
from voicedial.state.dnc import DoNotCall
from voicedial.state.leases import cap_shares
from voicedial.state.partition import DUE_STEP_MS, Partition, now_ms, saved_count
from voicedial.state.replies import text, texts
from voicedial.state.scripts import Scripts
from voicedial.state.states import ContactState, Disposition

__all__ = ["DUE_STEP_MS", "CampaignStore"]


class CampaignStore:
    """Reads and writes one campaign's state, routing each contact to its partition."""

    def __init__(self, redis: Redis, name: str) -> None:
        self.redis = redis
        self.name = name
        self.keys = keys.CampaignKeys(name)  # partition 0: where campaign-wide keys live
        self.scripts = Scripts(redis)
        self.dnc = DoNotCall(redis)
        self._zero = Partition(redis, name, 0, self.scripts)
        self._parts: list[Partition] | None = None
        self._turn = 0  # which partition a claim asks first (each in turn)

    # -- partitions ----------------------------------------------------------------------
    async def partitions(self) -> list[Partition]:
        """Every partition, in order (one for a campaign not yet created)."""
        if self._parts is not None:
            return self._parts
        count = await saved_count(self.redis, self.name)
        if count is None:  # not created yet: one partition for now, asked again next time
            return [self._zero]
        self._parts = [self._zero]  # fixed from now on: kept
        self._parts += [Partition(self.redis, self.name, k, self.scripts) for k in range(1, count)]
        return self._parts

    async def saved_partitions(self) -> int | None:
        """The partition count this campaign was created with; None before it was."""
        return await saved_count(self.redis, self.name)

    async def fix_partitions(
        self, wanted: int | None, *, max_concurrent: int, save: bool = True
    ) -> int:
        """The campaign's partition count, fixed (saved) the first time it is asked: the saved
        one, else `wanted`, else the default for this Redis (`default_partitions`) but no more
        than leaves each partition `_DEFAULT_SHARE` calls of the cap. Each share is at least one
        call whatever is asked.
        UsageError for a `wanted` count other than the saved one, or a cap below the count."""
        saved = await self.saved_partitions()
        if saved is not None and wanted is not None and wanted != saved:
            raise UsageError(
                f"--partitions {wanted}: campaign {self.name!r} has {saved}, fixed when it was "
                "created (`voicedial campaign purge` it to start again with another count)"
            )
        count = (
            saved or wanted or min(default_partitions(self.redis), _most_by_default(max_concurrent))
        )
        if count > max_concurrent:
            raise UsageError(
                f"--max-concurrent {max_concurrent} is below the campaign's {count} partitions: "
                f"each partition holds at least one call of the cap (raise it to {count})"
            )
        if save and saved is None:
            await self.redis.hsetnx(self.keys.meta, "partitions", count)
            count = await self.saved_partitions() or count  # another run may have been first
            self._parts = None
        return count

    async def of(self, contact_id: str) -> Partition:
        """The partition that holds `contact_id` (and its calls)."""
        parts = await self.partitions()
        return parts[keys.partition_of(contact_id, len(parts))]

    async def _grouped(self, contact_ids: Iterable[str]) -> dict[int, list[str]]:
        parts = await self.partitions()
        groups: dict[int, list[str]] = {}
        for cid in contact_ids:
            groups.setdefault(keys.partition_of(cid, len(parts)), []).append(cid)
        return groups

    # -- campaign ------------------------------------------------------------------------
    async def save_meta(self, options: dict[str, Any]) -> None:
        """Record the campaign (and the options any worker or server needs) in Redis."""
        await self.redis.sadd(keys.CAMPAIGNS, self.name)
        mapping: dict[FieldT, EncodableT] = {
            "options": json.dumps(options, sort_keys=True),
            "updated_at": now_ms(),
        }
        await self.redis.hset(self.keys.meta, mapping=mapping)
        await self.redis.hsetnx(self.keys.meta, "created_at", now_ms())

    async def options(self) -> dict[str, Any] | None:
        """The options saved by the last `campaign run`, or None for an unknown campaign."""
        raw = await self.redis.hget(self.keys.meta, "options")
        return json.loads(raw) if raw else None

    async def control(self) -> str:
        """'running', 'paused' or 'cancelled'."""
        value = await self.redis.hget(self.keys.meta, "control")
        return text(value) if value else "running"

    async def set_control(self, value: str) -> None:
        """Pause, resume or cancel dialling from any shell: partition 0 last, so a reader of
        `control` never sees a state some partition's claims do not act on yet."""
        for part in reversed(await self.partitions()):
            await self.redis.hset(part.keys.meta, "control", value)

    async def exists(self) -> bool:
        """True once a `campaign run` has saved this campaign."""
        return bool(await self.redis.exists(self.keys.meta))

    async def add_zone_sets(self, zone_sets: Iterable[str]) -> None:
        """Remember time-zone sets of imported contacts (each "A,B", "" for none)."""
        members = sorted(set(zone_sets))
        if members:
            await self.redis.sadd(self.keys.zones, *members)

    async def zone_sets(self) -> list[tuple[str, ...]] | None:
        """Every distinct time-zone set of the campaign's contacts; None for a campaign
        imported before they were kept (its windows are judged contact by contact)."""
        raw = texts(await self.redis.smembers(self.keys.zones))
        return [tuple(z for z in item.split(",") if z) for item in raw] if raw else None

    # -- contacts ------------------------------------------------------------------------
    async def import_contacts(
        self,
        contacts: Sequence[Contact] | ContactColumns,
        *,
        due_ms: float | None = None,
        chunk: int = 1000,
        in_flight: int = 3,
    ) -> tuple[int, int]:
        """Add new contacts as pending, each to its partition, due from `due_ms` (default
        now) in list order within a partition; returns (added, already known). Contacts the
        campaign has are left as they are (see `Partition.import_contacts`)."""
        if not isinstance(contacts, ContactColumns):
            contacts = ContactColumns.from_contacts(contacts)
        parts = await self.partitions()
        if len(parts) == 1:
            return await parts[0].import_contacts(
                contacts, due_ms=due_ms, chunk=chunk, in_flight=in_flight
            )
        count = len(parts)
        where = np.fromiter(
            (keys.partition_of(cid, count) for cid in contacts.contact_id.to_pylist()),
            dtype=np.int64,
            count=len(contacts),
        )
        results = await asyncio.gather(
            *(
                part.import_contacts(
                    contacts.filter(where == part.index),
                    due_ms=due_ms,
                    chunk=chunk,
                    in_flight=max(1, in_flight // 2),
                )
                for part in parts
                if bool((where == part.index).any())
            )
        )
        return sum(a for a, _ in results), sum(e for _, e in results)

    async def contact(self, contact_id: str) -> dict[str, str]:
        """One contact's fields, decoded ({} when unknown)."""
        return await (await self.of(contact_id)).contact(contact_id)

    async def contacts(self, contact_ids: Iterable[str]) -> list[dict[str, str]]:
        """Several contacts, in the order asked, one round trip per partition (at once)."""
        ids = list(contact_ids)
        parts = await self.partitions()
        groups = await self._grouped(ids)
        found = await asyncio.gather(*(parts[k].contacts(group) for k, group in groups.items()))
        by_id = {row["contact_id"]: row for rows in found for row in rows}
        return [by_id[cid] for cid in ids]

    async def claimed_contacts(
        self, contact_ids: Sequence[str]
    ) -> list[tuple[dict[str, str], bool]]:
        """Claimed contacts, each with whether its number is on the shared do-not-call set now
        (it may have opted out in another campaign since this list was imported)."""
        contacts = await self.contacts(contact_ids)
        flags = await self.dnc_members([c.get("phone_hash", "") for c in contacts])
        return list(zip(contacts, flags, strict=True))

    async def quiet_calls(
        self, contact_ids: Sequence[str], *, ring_ms: int, quiet_ms: int
    ) -> list[tuple[str, str]]:
        """(contact_id, call_sid) of leased contacts whose call has gone quiet (see
        `Partition.quiet_calls`), asked of every partition at once."""
        parts = await self.partitions()
        groups = await self._grouped(contact_ids)
        found = await asyncio.gather(
            *(
                parts[k].quiet_calls(group, ring_ms=ring_ms, quiet_ms=quiet_ms)
                for k, group in groups.items()
            )
        )
        return [pair for pairs in found for pair in pairs]

    async def all_contacts(self, *, page: int = 500) -> AsyncIterator[list[dict[str, str]]]:
        """Every contact of the campaign, decoded, a page at a time (in no order)."""
        for part in await self.partitions():
            async for rows in part.all_contacts(page=page):
                yield rows

    # -- dialling ------------------------------------------------------------------------
    async def claim(
        self, *, limit: int, max_concurrent: int, lease_ms: int, worker: str
    ) -> list[str]:
        """Atomically take up to `limit` due contacts within the concurrency cap.

        Each partition holds at most its share of the cap (`leases.cap_shares`), so the
        partitions together hold at most the cap whoever claims. A claim asks as few
        partitions as can give the limit within their shares (one, mostly: each claim is two
        round trips a partition), the next ones in turn each time, at once; when some had less
        than asked, every other partition is asked for the rest, at once."""
        parts = await self.partitions()
        if len(parts) == 1:
            return await parts[0].claim(
                limit=limit, cap=max_concurrent, lease_ms=lease_ms, worker=worker
            )
        shares = cap_shares(max_concurrent, len(parts))
        order = [parts[(self._turn + i) % len(parts)] for i in range(len(parts))]
        order = [part for part in order if shares[part.index] > 0]
        ways = min(len(order), -(-limit // max(1, min(shares))))
        self._turn = (self._turn + ways) % len(parts)
        wave = [(part, n) for part, n in zip(order[:ways], _spread(limit, ways), strict=True) if n]

        async def take(part: Partition, n: int) -> list[str]:
            return await part.claim(
                limit=n, cap=shares[part.index], lease_ms=lease_ms, worker=worker
            )

        got = await asyncio.gather(*(take(part, n) for part, n in wave))
        claimed = [cid for ids in got for cid in ids]
        short = limit - len(claimed)
        if short <= 0:
            return claimed
        # One more wave, at once, to every partition that may have more: each asked for an
        # even part of what is missing, at least one (a few more than the limit at most).
        drained = {part.index for (part, n), ids in zip(wave, got, strict=True) if len(ids) < n}
        rest = [part for part in order if part.index not in drained]
        if not rest:
            return claimed
        more = await asyncio.gather(*(take(part, -(-short // len(rest))) for part in rest))
        return claimed + [cid for ids in more for cid in ids]

    async def release(
        self,
        contact_id: str,
        *,
        state: ContactState,
        due_ms: int | None,
        reason: str = "",
        placed: bool = False,
    ) -> None:
        """Hand a claimed contact back (window closed, retryable error) or settle it."""
        part = await self.of(contact_id)
        await part.release(contact_id, state=state, due_ms=due_ms, reason=reason, placed=placed)

    async def record_dial(
        self, contact_id: str, call_sid: str, *, lease_ms: int, queue_time_ms: int | None = None
    ) -> None:
        """Remember a placed call (its callbacks may already have arrived; see dialled.lua)."""
        await self.record_dials([(contact_id, call_sid, queue_time_ms)], lease_ms=lease_ms)

    async def record_dials(
        self, placed: Sequence[tuple[str, str, int | None]], *, lease_ms: int
    ) -> None:
        """`record_dial` for several calls: one round trip per partition, all at once."""
        parts = await self.partitions()
        groups: dict[int, list[tuple[str, str, int | None]]] = {}
        for item in placed:
            groups.setdefault(keys.partition_of(item[0], len(parts)), []).append(item)
        await asyncio.gather(
            *(parts[k].record_dials(group, lease_ms=lease_ms) for k, group in groups.items())
        )

    async def expire_lease(self, contact_id: str, *, in_ms: int) -> None:
        """Let a held lease run out `in_ms` from now (see `Partition.expire_lease`)."""
        await (await self.of(contact_id)).expire_lease(contact_id, in_ms=in_ms)

    # -- calls ---------------------------------------------------------------------------
    async def call(self, call_sid: str, contact_id: str | None = None) -> dict[str, str]:
        """One call's fields, decoded ({} when unknown). The call lives beside its contact;
        without the contact's id every partition is asked."""
        if contact_id is not None:
            return await (await self.of(contact_id)).call(call_sid)
        for part in await self.partitions():
            found = await part.call(call_sid)
            if found:
                return found
        return {}

    async def mark_interrupted(self, calls: Sequence[tuple[str, str]]) -> None:
        """The operator is about to hang these calls up ((contact_id, call_sid) each): settling
        puts their contacts back in the queue instead of finishing them."""
        parts = await self.partitions()
        groups: dict[int, list[str]] = {}
        for contact_id, call_sid in calls:
            groups.setdefault(keys.partition_of(contact_id, len(parts)), []).append(call_sid)
        for k, sids in groups.items():
            await parts[k].mark_interrupted(sids)

    async def update_call(
        self, call_sid: str, contact_id: str, /, **fields: str | int | float
    ) -> None:
        """Set fields on a call record (interview state, AnsweredBy ...)."""
        await (await self.of(contact_id)).update_call(call_sid, **fields)

    async def progress(
        self, call_sid: str, contact_id: str, *, status: str, seq: int, lease_ms: int
    ) -> bool:
        """Apply a non-final status callback; False when it was stale or repeated."""
        part = await self.of(contact_id)
        return await part.progress(call_sid, contact_id, status=status, seq=seq, lease_ms=lease_ms)

    async def finish(
        self,
        call_sid: str,
        contact_id: str,
        *,
        state: ContactState,
        disposition: Disposition,
        call_status: str,
        due_ms: int | None,
        event: str | None,
        recent: dict[str, Any],
    ) -> bool:
        """Settle a finished call once, queueing its outbox event in the same atomic step (in
        the contact's partition's outbox); False if it was already settled."""
        part = await self.of(contact_id)
        return await part.finish(
            call_sid,
            contact_id,
            state=state,
            disposition=disposition,
            call_status=call_status,
            due_ms=due_ms,
            event=event,
            recent=recent,
        )

    async def settle_inputs(
        self,
        call_sid: str,
        contact_id: str,
        *,
        call_fields: Sequence[str],
        contact_fields: Sequence[str],
    ) -> tuple[dict[str, str], dict[str, str]] | None:
        """The named fields of a call and of its contact (see `Partition.settle_inputs`)."""
        part = await self.of(contact_id)
        return await part.settle_inputs(
            call_sid, contact_id, call_fields=call_fields, contact_fields=contact_fields
        )

    async def save_turn(
        self,
        call_sid: str,
        contact_id: str,
        *,
        turn: str,
        interview: str,
        twiml: str,
        next_turn: int,
    ) -> bool:
        """Store the interview after `turn` (see `Partition.save_turn`)."""
        part = await self.of(contact_id)
        return await part.save_turn(
            call_sid, turn=turn, interview=interview, twiml=twiml, next_turn=next_turn
        )

    # -- do-not-call ---------------------------------------------------------------------
    async def dnc_members(self, phone_hashes: Sequence[str]) -> list[bool]:
        """Which of these phone hashes are on the shared do-not-call set."""
        return await self.dnc.members(phone_hashes)

    async def add_dnc(self, phone_hash: str) -> None:
        """Never call this number again, in any campaign."""
        await self.dnc.add(phone_hash)

    async def dnc_hashes(self, *, at_most: int) -> set[str] | None:
        """The whole shared do-not-call set, or None when it holds more than `at_most`."""
        return await self.dnc.everything(at_most=at_most)

    # -- reading -------------------------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        """Contacts per state (only states with contacts), over every partition."""
        total: dict[str, int] = {}
        for tallies in await asyncio.gather(*(p.counts() for p in await self.partitions())):
            for state, n in tallies.items():
                total[state] = total.get(state, 0) + n
        return {state: n for state, n in total.items() if n}

    async def view(self) -> tuple[dict[str, int], int | None]:
        """`counts` and `next_due_ms` together, each partition's pair read at one instant: a
        contact never moves between partitions, so none is missed by both, as it could be by
        two separate reads (claimed between them: counted pending, gone from `due`)."""
        total: dict[str, int] = {}
        firsts: list[int] = []
        for tallies, first in await asyncio.gather(*(p.view() for p in await self.partitions())):
            for state, n in tallies.items():
                total[state] = total.get(state, 0) + n
            if first is not None:
                firsts.append(first)
        return {s: n for s, n in total.items() if n}, min(firsts, default=None)

    async def active_count(self) -> int:
        """Contacts whose call lease is held (dialling or in a call)."""
        return sum(await asyncio.gather(*(p.active_count() for p in await self.partitions())))


def default_partitions(redis: Redis) -> int:
    """How many partitions a new campaign gets: one on a single server (partitions there only
    cost round trips); on a cluster 16, or two per primary past eight, so a campaign spreads
    over every node of a 3 to 10 node cluster and keeps spreading when nodes are added."""
    if not is_cluster(redis):
        return 1
    return max(16, 2 * len(redis.get_primaries()))  # type: ignore[attr-defined]


#: The least share of the concurrency cap a partition gets by default. A contact whose claim
#: outlived its worker holds a call of its partition's share until its lease runs out, and
#: the last contacts of a campaign are dialled at their partition's share: a share of four
#: keeps either from stalling a partition.
_DEFAULT_SHARE = 4


def _most_by_default(max_concurrent: int) -> int:
    return max(1, max_concurrent // _DEFAULT_SHARE)


def _spread(total: int, ways: int) -> list[int]:
    """`total` split over `ways` as evenly as whole numbers go, the larger parts first."""
    return [total // ways + (1 if i < total % ways else 0) for i in range(ways)]
