"""Every Redis key name voicedial uses, in one place.

Keys of one campaign share the hash tag ``{c:NAME}`` and keys of one Twilio account share
``{a:SID}``, so each Lua script touches one cluster slot and runs on Redis Cluster too.
"""

from __future__ import annotations

__all__ = [
    "CAMPAIGNS",
    "DNC_LEGACY",
    "OUTBOX_GROUP",
    "PHONE_HASH_KEY",
    "CampaignKeys",
    "dnc_shard",
    "pace_key",
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


class CampaignKeys:
    """Key names of one campaign."""

    __slots__ = ("name", "prefix")

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"vd:{{c:{name}}}"

    @property
    def meta(self) -> str:
        """Hash: the campaign's settings and control flags (paused, cancelled)."""
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
