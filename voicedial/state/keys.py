"""Every Redis key name voicedial uses, in one place.

A campaign is split into partitions, each its own hash tag: partition 0 is ``{c:NAME}`` (all of
a campaign made before partitions, and all of one with a single partition), partition k is
``{pK:NAME}``. A contact lives in the partition its id hashes to (`partition_of`), and its calls
beside it. Keys of one Twilio account share ``{a:SID}``. Each Lua script touches one partition,
so it runs on one cluster slot, and the partitions of a campaign spread over a cluster's nodes.
"""

from __future__ import annotations

import zlib

__all__ = [
    "CAMPAIGNS",
    "DNC_LEGACY",
    "OUTBOX_GROUP",
    "PHONE_HASH_KEY",
    "CampaignKeys",
    "dnc_shard",
    "pace_key",
    "partition_of",
]

CAMPAIGNS = "vd:campaigns"  # set of campaign names
DNC_LEGACY = "vd:dnc"  # the unsharded do-not-call set of earlier versions (see `dnc.py`)
OUTBOX_GROUP = "delivery"
PHONE_HASH_KEY = "vd:phone_hash_key"  # the key of every phone_hash made against this Redis


def dnc_shard(phone_hash: str) -> str:
    """The do-not-call shard (set of phone_hash values never to call, across campaigns) that
    holds `phone_hash`: one of 256 by its first two hex digits, each its own slot."""
    return f"vd:dnc:{{{phone_hash[:2]}}}"


def pace_key(account_sid: str) -> str:
    """The GCRA state shared by every campaign and worker on one Twilio account."""
    return f"vd:{{a:{account_sid}}}:pace"


def partition_of(contact_id: str, count: int) -> int:
    """The partition (0 .. count - 1) that holds `contact_id`: its CRC-32 modulo the count, so
    contacts spread evenly and any process finds one from its id alone."""
    return zlib.crc32(contact_id.encode()) % count if count > 1 else 0


class CampaignKeys:
    """Key names of one partition of a campaign (partition 0 also holds what is campaign-wide:
    the options, time-zone sets and workers' heartbeats)."""

    __slots__ = ("name", "partition", "prefix")

    def __init__(self, name: str, partition: int = 0) -> None:
        self.name = name
        self.partition = partition
        self.prefix = f"vd:{{c:{name}}}" if partition == 0 else f"vd:{{p{partition}:{name}}}"

    @property
    def meta(self) -> str:
        """Hash: in partition 0, the campaign's settings, partition count and control flag
        (paused, cancelled); in the others, a copy of the control flag for their claims."""
        return f"{self.prefix}:meta"

    @property
    def due(self) -> str:
        """Sorted set: contact id -> epoch ms when it may next be dialled."""
        return f"{self.prefix}:due"

    @property
    def inflight(self) -> str:
        """Sorted set: contact id -> epoch ms when its call lease expires."""
        return f"{self.prefix}:inflight"

    @property
    def counts(self) -> str:
        """Hash: state -> number of contacts in it (kept by the Lua scripts)."""
        return f"{self.prefix}:counts"

    @property
    def zones(self) -> str:
        """Set: every distinct time-zone set of the campaign's contacts ("A,B"), so calling
        windows can be judged for the whole campaign at once."""
        return f"{self.prefix}:zones"

    @property
    def stats(self) -> str:
        """Hash: running totals (calls placed, attempts, imported, rejected ...)."""
        return f"{self.prefix}:stats"

    @property
    def recent(self) -> str:
        """List: the last outcomes, newest first, as JSON."""
        return f"{self.prefix}:recent"

    @property
    def dials(self) -> str:
        """Sorted set: recent call creations (member sid, score epoch ms) for the pace shown."""
        return f"{self.prefix}:dials"

    @property
    def outbox(self) -> str:
        """Stream: profile events waiting to be stored and delivered."""
        return f"{self.prefix}:outbox"

    @property
    def retry(self) -> str:
        """Sorted set: parked delivery id -> epoch ms of its next attempt."""
        return f"{self.prefix}:retry"

    @property
    def deliveries(self) -> str:
        """Hash: parked delivery id -> JSON of the event and its attempt so far."""
        return f"{self.prefix}:deliveries"

    @property
    def dead(self) -> str:
        """Hash: event id -> JSON of a dead-lettered delivery."""
        return f"{self.prefix}:dead"

    def claim_receipt(self, token: str) -> str:
        """String with a TTL: the ids one claim took (a retried claim gets them again)."""
        return f"{self.prefix}:claim:{token}"

    def worker(self, name: str) -> str:
        """String with a TTL: a dialling worker's heartbeat (absent: the worker is gone)."""
        return f"{self.prefix}:worker:{name}"

    def consumer(self, name: str) -> str:
        """String with a TTL: an outbox consumer's heartbeat (absent: the consumer is dead)."""
        return f"{self.prefix}:consumer:{name}"

    def contact(self, contact_id: str) -> str:
        """Hash: one contact (number, state, attempts, context ...)."""
        return f"{self.prefix}:contact:{contact_id}"

    def call(self, call_sid: str) -> str:
        """Hash: one call by CallSid (contact, status, sequence, interview state)."""
        return f"{self.prefix}:call:{call_sid}"

    @property
    def contact_prefix(self) -> str:
        """Prefix of contact hashes (for scans)."""
        return f"{self.prefix}:contact:"
