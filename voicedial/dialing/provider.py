"""What voicedial needs from a telephone carrier, as a protocol: place a call, ask about calls,
hang one up. The dialler, the reconciler and the callback server depend on this; the Twilio
provider (`dialing/twilio.py`) implements it, and reaches the real Twilio or the emulator alike
over HTTP. Carrier errors arrive as `TelephonyError`, with what they mean for the dialler
(`retryable`, `number_invalid`, `account_refused`) decided by the provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["CallProvider", "CallRequest", "CallState", "PlacedCall"]


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What one outbound call needs."""

    to: str
    from_: str
    url: str
    status_callback: str
    amd_callback: str
    timeout_s: int = 30
    time_limit_s: int = 600
    record: bool = False


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call the carrier accepted: its sid and how long it expects to queue it (CPS limit)."""

    sid: str
    queue_time_ms: int | None


@dataclass(frozen=True, slots=True)
class CallState:
    """What the carrier says of a call."""

    sid: str
    status: str
    duration: int | None
    answered_by: str | None


class CallProvider(Protocol):
    """A carrier account that places and controls calls."""

    async def place_call(self, req: CallRequest) -> PlacedCall:
        """Create the call."""
        ...

    async def fetch(self, call_sid: str) -> CallState:
        """The call's current status."""
        ...

    async def calls_to(self, to: str, *, since: datetime) -> list[CallState]:
        """Calls to `to` created at or after `since`, newest first."""
        ...

    async def account_status(self) -> str:
        """The account's status ('active', 'suspended' ...)."""
        ...

    async def hangup(self, call_sid: str) -> None:
        """End a live call (or cancel one still ringing)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
