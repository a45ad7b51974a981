"""One partition of a campaign in Redis: its contacts, their states, claims, calls and outbox.

Every multi-key change goes through one Lua script (see `voicedial/state/lua/`) on the
partition's keys, which share one hash tag, so two workers never dial a contact twice at once
and a crash never leaves a half-written state. `store.CampaignStore` routes to partitions.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow.compute as pc
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from voicedial.contacts.parse import Contact, ContactColumns
from voicedial.state import keys, records
from voicedial.state.cluster import is_cluster, node_of, queue_script
from voicedial.state.connect import server_info
from voicedial.state.durability import Command, sync_command
from voicedial.state.replies import byte_map, text, text_map, texts
from voicedial.state.scripts import Scripts
from voicedial.state.states import ContactState, Disposition

__all__ = ["DUE_STEP_MS", "Partition", "now_ms", "saved_count"]

#: Imported contacts are due one microsecond apart, in list order: they are dialled in the
#: list's order, and each ZADD appends at the end of the sorted set.
DUE_STEP_MS = 0.001

# The import script unpacks a chunk's scores and ids into one ZADD, and Lua's unpack stops
# at about 8,000 values.
_MAX_CHUNK = 3000
# How long a claim's receipt (its claimed ids, for a retry of the same claim) is kept at most:
# longer than any outage grace a claim is retried through. The next claim drops it sooner.
_RECEIPT_MS = 600_000
# How often a store asks how writes are made durable there, and how long one waits for it.
_SYNC_CHECK_S = 5.0
_SYNC_TIMEOUT_MS = 1000


def now_ms() -> int:
    """The local clock in epoch milliseconds."""
    return int(time.time() * 1000)


async def saved_count(redis: Redis, name: str) -> int | None:
    """How many partitions campaign `name` was created with (kept in partition 0's meta);
    1 for a campaign made before partitions, None for one not created yet."""
    meta = keys.CampaignKeys(name).meta
    raw = await redis.hget(meta, "partitions")
    if raw is not None:
        return int(raw)
    return 1 if await redis.exists(meta) else None


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _msgpack_uint32s(values: np.ndarray) -> np.ndarray:
    """Each of `values` (below 2**32) as a MessagePack uint32: one 5-byte row each."""
    items = np.empty((len(values), 5), dtype=np.uint8)
    items[:, 0] = 0xCE  # uint32, big-endian
    items[:, 1:] = values.astype(">u4").view(np.uint8).reshape(-1, 4)
    return items


def _msgpack_array(items: np.ndarray) -> bytes:
    """Rows of `_msgpack_uint32s` as one MessagePack array, which Lua's cmsgpack turns into a
    table in one call."""
    return b"\xdd" + len(items).to_bytes(4, "big") + items.tobytes()


class Partition:
    """Reads and writes one partition of a campaign: its contacts, claims and calls."""

    def __init__(self, redis: Redis, name: str, index: int, scripts: Scripts) -> None:
        self.redis = redis
        self.name = name
        self.index = index
        self.keys = keys.CampaignKeys(name, index)
        self.scripts = scripts
        self._last_receipt: str | None = None  # dropped by the next claim (see claim.lua)
        self._sync: Command | None = None
        self._sync_at = float("-inf")

    async def _sync_command(self) -> Command | None:
        """What makes an intent write durable on this server (`durability`), asked again
        every few seconds: a claim and a call's record wait for it, so a crash or a failover
        cannot forget that a contact was claimed or called (and dial the person again)."""
        now = time.monotonic()
        if now - self._sync_at > _SYNC_CHECK_S:
            info = await server_info(self.redis, self.keys.due)
            self._sync = sync_command(
                version=str(info.get("redis_version", "")),
                aof=bool(int(info.get("aof_enabled", 0) or 0)),
                appendfsync=info.get("appendfsync"),
                replicas=int(info.get("connected_slaves", 0) or 0),
                timeout_ms=_SYNC_TIMEOUT_MS,
            )
            self._sync_at = now
        return self._sync

    # -- contacts ------------------------------------------------------------------------
    async def import_contacts(
        self,
        contacts: Sequence[Contact] | ContactColumns,
        *,
        due_ms: float | None = None,
        chunk: int = 1000,
        in_flight: int = 3,
    ) -> tuple[int, int]:
        """Add new contacts as pending, the first due at `due_ms` (default now) and the others
        `DUE_STEP_MS` apart, in list order; returns (added, already known). Contacts the
        campaign has are left as they are.

        Chunks go out as separate script calls, up to `in_flight` at once, so Redis runs one
        chunk while the next is sent (one pipeline would leave Redis idle while the whole
        batch is packed, then this process idle while Redis works).
        """
        if not 1 <= chunk <= _MAX_CHUNK:
            raise ValueError(f"chunk must be 1 to {_MAX_CHUNK}")
        if not isinstance(contacts, ContactColumns):
            contacts = ContactColumns.from_contacts(contacts)
        if not len(contacts):
            return 0, 0
        # Each contact's id, a NUL and its packed fields, back to back in one buffer; a chunk
        # is a slice of it, and where its ids and records end is all the script needs.
        joined = records.pack(contacts, lead=contacts.contact_id)
        _, offsets_buffer, data = joined.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[
            joined.offset : joined.offset + len(joined) + 1
        ].astype(np.int64)
        starts = np.arange(0, len(contacts), chunk)
        bases = offsets[starts]
        ends = np.empty(2 * len(contacts), dtype=np.int64)
        ends[0::2] = offsets[:-1] + pc.binary_length(contacts.contact_id).to_numpy()
        ends[1::2] = offsets[1:]
        ends -= np.repeat(bases, 2 * np.diff(np.append(starts, len(contacts))))
        items = _msgpack_uint32s(ends)
        added = existing = 0
        due = now_ms() if due_ms is None else due_ms
        script_keys = [self.keys.counts, self.keys.due, self.keys.stats]
        pending: deque[asyncio.Future[Any]] = deque()
        try:
            for start, base in zip(starts.tolist(), bases.tolist(), strict=True):
                stop = min(start + chunk, len(contacts))
                blob = data[base : int(offsets[stop])].to_pybytes()
                args = [
                    self.keys.contact_prefix,
                    due + start * DUE_STEP_MS,
                    DUE_STEP_MS,
                    blob,
                    _msgpack_array(items[2 * start : 2 * stop]),
                ]
                if len(pending) >= in_flight:
                    a, e = await pending.popleft()
                    added, existing = added + int(a), existing + int(e)
                pending.append(
                    asyncio.ensure_future(self.scripts.import_(keys=script_keys, args=args))
                )
                await asyncio.sleep(0)  # let it start sending
            while pending:
                a, e = await pending.popleft()
                added, existing = added + int(a), existing + int(e)
        finally:
            for future in pending:  # only on error or cancellation
                future.cancel()
        return added, existing

    async def contact(self, contact_id: str) -> dict[str, str]:
        """One contact's fields, decoded ({} when unknown)."""
        return records.unpack(byte_map(await self.redis.hgetall(self.keys.contact(contact_id))))

    async def quiet_calls(
        self, contact_ids: Sequence[str], *, ring_ms: int, quiet_ms: int
    ) -> list[tuple[str, str]]:
        """(contact_id, call_sid) of those leased contacts whose call has had no callback for
        `quiet_ms` (`ring_ms` more while it was never answered): its final status callback
        may have been lost. Two round trips, whatever the number of contacts."""
        pipe = self.redis.pipeline(transaction=False)
        for cid in contact_ids:
            pipe.hmget(self.keys.contact(cid), "state", "last_call_sid")
        live = (ContactState.DIALLING, ContactState.IN_CALL)
        calls = [
            (cid, text(sid), text(state))
            for cid, (state, sid) in zip(contact_ids, await pipe.execute(), strict=True)
            if sid and state and text(state) in live
        ]
        pipe = self.redis.pipeline(transaction=False)
        for _, sid, _ in calls:
            pipe.hmget(self.keys.call(sid), "final", "seen_at", "voice_at", "created_at")
        now = now_ms()
        quiet = []
        for (cid, sid, state), fields in zip(calls, await pipe.execute(), strict=True):
            final, *times = (text(f) if f else "" for f in fields)
            heard = max((int(float(t)) for t in times if t), default=now)
            limit = quiet_ms + (ring_ms if state == ContactState.DIALLING else 0)
            if final != "1" and now - heard > limit:
                quiet.append((cid, sid))
        return quiet

    async def contacts(self, contact_ids: Iterable[str]) -> list[dict[str, str]]:
        """Several contacts of this partition in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        ids = list(contact_ids)
        for cid in ids:
            pipe.hgetall(self.keys.contact(cid))
        rows = await pipe.execute()
        out = []
        for cid, raw in zip(ids, rows, strict=True):
            row = records.unpack(raw)
            row["contact_id"] = cid
            out.append(row)
        return out

    # -- dialling ------------------------------------------------------------------------
    async def claim(self, *, limit: int, cap: int, lease_ms: int, worker: str) -> list[str]:
        """Atomically take up to `limit` due contacts while this partition holds fewer than
        `cap` live leases (returned once durable: see `voicedial.state.durability`).

        Two round trips: the earliest `limit` ids of `due` are read first, so that the claim
        script can name each contact's key (Redis Cluster runs a script only on the keys it
        is given); the script then takes those still due, by the server's clock."""
        candidates = texts(await self.redis.zrange(self.keys.due, 0, limit - 1))
        if not candidates:
            return []
        receipt = self.keys.claim_receipt(uuid.uuid4().hex)
        script_keys = [self.keys.due, self.keys.inflight, self.keys.counts, self.keys.meta]
        script_keys += [receipt, self._last_receipt or receipt]
        script_keys += [self.keys.contact(contact_id) for contact_id in candidates]
        script_args: list[str | int] = [cap, lease_ms, worker, _RECEIPT_MS, *candidates]
        sync = await self._sync_command()
        if sync is None:
            ids = await self.scripts.claim(keys=script_keys, args=script_args)
        else:
            pipe = self.redis.pipeline(transaction=False)
            await queue_script(pipe, self.scripts.claim, script_keys, script_args)
            ids = (await self._execute_synced(pipe, sync))[0]
        if ids:
            self._last_receipt = receipt
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

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
        await self.scripts.release(
            keys=[
                self.keys.due,
                self.keys.inflight,
                self.keys.counts,
                self.keys.contact(contact_id),
            ],
            args=[
                contact_id,
                "" if due_ms is None else due_ms,
                state,
                reason,
                "0" if placed else "1",
            ],
        )

    async def record_dial(
        self, contact_id: str, call_sid: str, *, lease_ms: int, queue_time_ms: int | None = None
    ) -> None:
        """Remember a placed call (its callbacks may already have arrived; see dialled.lua)."""
        await self.record_dials([(contact_id, call_sid, queue_time_ms)], lease_ms=lease_ms)

    async def record_dials(
        self, placed: Sequence[tuple[str, str, int | None]], *, lease_ms: int
    ) -> None:
        """`record_dial` for several calls (contact id, call sid, queue time) in one round
        trip: at a thousand calls a second, one round trip each was a sixth of the dialler."""
        pipe = self.redis.pipeline(transaction=False)
        for contact_id, call_sid, queue_time_ms in placed:
            await queue_script(
                pipe,
                self.scripts.dialled,
                [
                    self.keys.call(call_sid),
                    self.keys.contact(contact_id),
                    self.keys.inflight,
                    self.keys.stats,
                    self.keys.dials,
                ],
                [call_sid, contact_id, lease_ms, "" if queue_time_ms is None else queue_time_ms],
            )
        await self._execute_synced(pipe, await self._sync_command())

    async def _execute_synced(self, pipe: Any, sync: Command | None) -> list[Any]:
        """Run `pipe`, then `sync` (WAIT/WAITAOF) in the same round trip on a standalone
        server; on a cluster, WAIT names no key, so it goes on its own to the campaign's node
        (the one that took the writes)."""
        if sync is None:
            return list(await pipe.execute())
        if not is_cluster(self.redis):
            pipe.execute_command(*sync)
            return list(await pipe.execute())[:-1]
        replies = list(await pipe.execute())
        await self.redis.execute_command(*sync, target_nodes=node_of(self.redis, self.keys.due))  # type: ignore[arg-type, no-untyped-call]
        return replies

    async def expire_lease(self, contact_id: str, *, in_ms: int) -> None:
        """Let a held lease run out `in_ms` from now (a create whose fate is unknown: the
        reconciler then asks the carrier before the contact is dialled again)."""
        await self.redis.zadd(self.keys.inflight, {contact_id: now_ms() + in_ms}, xx=True)

    # -- calls ---------------------------------------------------------------------------
    async def call(self, call_sid: str) -> dict[str, str]:
        """One call's fields, decoded ({} when unknown)."""
        return text_map(await self.redis.hgetall(self.keys.call(call_sid)))

    async def mark_interrupted(self, call_sids: Sequence[str]) -> None:
        """The operator is about to hang these calls up: settling puts their contacts back in
        the queue instead of finishing them."""
        pipe = self.redis.pipeline(transaction=False)
        for sid in call_sids:
            pipe.hset(self.keys.call(sid), "interrupted", "1")
        await pipe.execute()

    async def update_call(self, call_sid: str, **fields: str | int | float) -> None:
        """Set fields on a call record (interview state, AnsweredBy ...)."""
        mapping: dict[FieldT, EncodableT] = {k: v for k, v in fields.items()}
        await self.redis.hset(self.keys.call(call_sid), mapping=mapping)

    async def progress(
        self, call_sid: str, contact_id: str, *, status: str, seq: int, lease_ms: int
    ) -> bool:
        """Apply a non-final status callback; False when it was stale or repeated."""
        done = await self.scripts.progress(
            keys=[
                self.keys.call(call_sid),
                self.keys.contact(contact_id),
                self.keys.counts,
                self.keys.inflight,
            ],
            args=[status, seq, lease_ms, call_sid, contact_id],
        )
        return bool(done)

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
        """Settle a finished call once, queueing its outbox `event` (JSON) in the same atomic
        step; False if it was already settled."""
        done = await self.scripts.finish(
            keys=[
                self.keys.call(call_sid),
                self.keys.contact(contact_id),
                self.keys.counts,
                self.keys.inflight,
                self.keys.due,
                self.keys.outbox,
                self.keys.recent,
                self.keys.stats,
            ],
            args=[
                call_sid,
                state,
                "" if due_ms is None else due_ms,
                event or "",
                json.dumps(recent),
                call_status,
                disposition,
                contact_id,
            ],
        )
        return bool(done)

    async def settle_inputs(
        self,
        call_sid: str,
        contact_id: str,
        *,
        call_fields: Sequence[str],
        contact_fields: Sequence[str],
    ) -> tuple[dict[str, str], dict[str, str]] | None:
        """The named fields of a call and of its contact, in one round trip; None when the call
        was already settled, or is not this campaign's call for this contact (a CallSid it never
        placed). The contact's packed fields are unpacked (records.py)."""
        wanted = [*contact_fields, records.PACKED]
        found = await self.scripts.settle_read(
            keys=[self.keys.call(call_sid), self.keys.contact(contact_id)],
            args=[contact_id, len(call_fields), *call_fields, *wanted],
        )
        if found is None:
            return None
        call_values, contact_values = found
        call = {
            k: v.decode() for k, v in zip(call_fields, call_values, strict=True) if v is not None
        }
        contact = records.unpack(
            {k.encode(): v for k, v in zip(wanted, contact_values, strict=True) if v is not None}
        )
        return call, contact

    async def save_turn(
        self, call_sid: str, *, turn: str, interview: str, twiml: str, next_turn: int
    ) -> bool:
        """Store the interview after `turn` and what was said, unless another request for the
        same turn did first (then False: say what it saved)."""
        saved = await self.scripts.turn(
            keys=[self.keys.call(call_sid)], args=[turn, interview, twiml, next_turn]
        )
        return bool(saved)

    # -- reading -------------------------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        """Contacts per state (only states with contacts)."""
        raw = text_map(await self.redis.hgetall(self.keys.counts))
        return {k: int(v) for k, v in raw.items() if int(v) and not k.startswith("attempts:")}

    async def view(self) -> tuple[dict[str, int], int | None]:
        """`counts` and `next_due_ms` read at one instant (view.lua)."""
        flat, first = await self.scripts.view(keys=[self.keys.counts, self.keys.due])
        raw = text_map(dict(zip(flat[0::2], flat[1::2], strict=True)))
        tallies = {k: int(v) for k, v in raw.items() if int(v) and not k.startswith("attempts:")}
        return tallies, int(float(first)) if first else None

    async def has_call(self, call_sid: str) -> bool:
        """Whether this partition holds a record of `call_sid`."""
        return bool(await self.redis.exists(self.keys.call(call_sid)))

    async def active_count(self) -> int:
        """Contacts whose call lease is held (dialling or in a call)."""
        return int(await self.redis.zcard(self.keys.inflight))

    async def all_contacts(self, *, page: int = 500) -> AsyncIterator[list[dict[str, str]]]:
        """Every contact of the campaign, decoded, a page at a time (in no order)."""
        pattern = _glob_escape(self.keys.contact_prefix) + "*"
        ids = [
            key.decode().removeprefix(self.keys.contact_prefix)
            async for key in self.redis.scan_iter(match=pattern, count=1000)
        ]
        for start in range(0, len(ids), page):
            yield await self.contacts(ids[start : start + page])
