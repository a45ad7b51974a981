"""The outbox event: what a settled call leaves for delivery, as one typed, versioned value.

Built in one place (`voicedial.callbacks.outcomes`, when a call is settled) and parsed in one
place (`OutboxEvent.from_json`, by the outbox and replay). Every settled call leaves one: a
`call.settled` event carries the outcome for the audit trail; a `worker_profile.completed`
event (a call with consent) carries the profile and transcript to store and deliver too.

Version 1 is the first typed form. Events written before it (no `version`; a profile event
whose outcome was only in its profile) still parse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from voicedial.state.states import Disposition

__all__ = [
    "EVENT_VERSION",
    "PROFILE_EVENT",
    "SETTLED_EVENT",
    "CallOutcome",
    "DeadLetter",
    "OutboxEvent",
]

EVENT_VERSION = 1
PROFILE_EVENT = "worker_profile.completed"
SETTLED_EVENT = "call.settled"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CallOutcome(BaseModel):
    """How the call ended, for the contact."""

    model_config = ConfigDict(frozen=True)

    disposition: Disposition
    consent_given: bool | None = None
    attempt: int | None = None
    call_status: str | None = None
    interrupted: bool = False  # hung up by the operator: the contact went back in the queue


class OutboxEvent(BaseModel):
    """One settled call, on its way to storage, the audit trail and the webhook."""

    model_config = ConfigDict(frozen=True)

    version: int = EVENT_VERSION
    type: Literal["call.settled", "worker_profile.completed"]
    campaign: str
    call_id: str
    contact_id: str | None = None
    phone_hash: str | None = None
    outcome: CallOutcome
    external_id: str | None = None
    webhook_url: str | None = None
    profile: dict[str, Any] | None = None
    transcript: dict[str, Any] | None = None
    recording_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_forms(cls, data: Any) -> Any:
        """Events written before version 1 kept a profile event's outcome (and phone hash)
        only inside its profile."""
        if isinstance(data, dict) and "outcome" not in data:
            profile = data.get("profile") or {}
            data = {
                **data,
                "outcome": {
                    "disposition": profile.get("disposition", Disposition.COMPLETED),
                    "consent_given": profile.get("consent_given"),
                },
            }
            data.setdefault("phone_hash", profile.get("phone_hash"))
        return data

    @classmethod
    def from_json(cls, raw: str | bytes) -> OutboxEvent:
        """Parse an event as the outbox stores it."""
        return cls.model_validate_json(raw)

    def to_json(self) -> str:
        """The event as the outbox stores it."""
        return self.model_dump_json(exclude_none=True)

    @property
    def has_profile(self) -> bool:
        """True for a call with consent: a profile to store and deliver."""
        return self.type == PROFILE_EVENT

    @property
    def ended_at(self) -> str | None:
        """When the call ended (ISO-8601, UTC), as its profile says."""
        ended = ((self.profile or {}).get("call") or {}).get("ended_at")
        return str(ended) if ended else None

    @property
    def day(self) -> str:
        """The day (YYYY-MM-DD, UTC) its files are stored under."""
        ended = self.ended_at
        return ended[:10] if ended else datetime.now(UTC).strftime("%Y-%m-%d")

    @property
    def webhook_id(self) -> str:
        """The `webhook-id`: derived from the call, so every retry and replay of one event
        carries the same id and receivers can drop duplicates."""
        return f"msg_{self.call_id}"

    def without_transcript(self) -> OutboxEvent:
        """The event once its transcript is in storage: Redis keeps the smaller form."""
        return self.model_copy(update={"transcript": None})


class DeadLetter(BaseModel):
    """An event that could not be delivered, and why; `replay-outbox` sends it again."""

    id: str
    campaign: str | None = None
    webhook_url: str | None = None
    error: str = ""
    status: int | None = None
    attempts: int = 0
    dead_at: str
    event: OutboxEvent

    @classmethod
    def of(
        cls,
        event: OutboxEvent,
        *,
        error: str,
        attempts: int,
        status: int | None = None,
        url: str | None = None,
    ) -> DeadLetter:
        """The dead letter of `event` after its last failed attempt."""
        return cls(
            id=event.call_id,
            campaign=event.campaign,
            webhook_url=url if url is not None else event.webhook_url,
            error=error,
            status=status,
            attempts=attempts,
            dead_at=_utc_now(),
            event=event.without_transcript(),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> DeadLetter:
        """Parse a dead letter as the outbox stores it."""
        return cls.model_validate_json(raw)

    def to_json(self) -> str:
        """The dead letter as the outbox stores it (its event in the event's stored form)."""
        record = self.model_dump(mode="json", exclude={"event"})
        record["event"] = json.loads(self.event.to_json())
        return json.dumps(record, ensure_ascii=False)
