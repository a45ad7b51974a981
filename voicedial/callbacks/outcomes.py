"""What a finished call comes to: its disposition, the contact's next state, and the profile
event that the outbox stores and delivers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from voicedial.delivery.events import CallOutcome, OutboxEvent
from voicedial.interview import InterviewState, Outcome, on_hangup, profile_fields
from voicedial.options import CampaignOptions
from voicedial.state.states import RETRYABLE, ContactState, Disposition
from voicedial.state.store import CampaignStore

__all__ = ["build_profile", "disposition_for", "settle_call"]

SCHEMA_VERSION = 1


def _iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def disposition_for(
    call_status: str, answered_by: str | None, interview: InterviewState | None
) -> Disposition:
    """The contact-level outcome of one call."""
    if call_status == "busy":
        return Disposition.BUSY
    if call_status in ("no-answer", "canceled"):
        return Disposition.NO_ANSWER
    if call_status == "failed":
        return Disposition.FAILED
    if answered_by and (answered_by.startswith("machine") or answered_by == "fax"):
        return Disposition.VOICEMAIL
    if interview is None:
        return Disposition.FAILED  # answered, but our voice webhook never ran
    if interview.outcome == Outcome.COMPLETED:
        return Disposition.COMPLETED
    if interview.outcome == Outcome.DECLINED:
        return Disposition.DECLINED
    if interview.outcome == Outcome.OPTED_OUT:
        return Disposition.OPTED_OUT
    return Disposition.INCOMPLETE if interview.consent_given else Disposition.DECLINED


def build_profile(
    *,
    options: CampaignOptions,
    call_sid: str,
    contact: dict[str, str],
    call: dict[str, str],
    interview: InterviewState,
    disposition: str,
    ended_ms: float,
    duration_s: int | None,
) -> dict[str, Any]:
    """The worker profile, schema version 1 (only ever built for a call with consent)."""
    fields = profile_fields(interview)
    started_ms = float(call.get("answered_at") or call.get("created_at") or ended_ms)
    context = json.loads(contact.get("context") or "{}")
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": options.name,
        "call_id": call_sid,
        "contact_id": contact.get("contact_id"),
        "external_id": contact.get("external_id") or None,
        "phone_hash": contact.get("phone_hash"),
        "consent_given": fields["consent_given"],
        "disposition": disposition,
        "name": fields["name"],
        "current_job": fields["current_job"],
        "employment_history": fields["employment_history"],
        "employment_gaps": fields["employment_gaps"],
        "skills": fields["skills"],
        "adversarial_score": fields["adversarial_score"],
        "adversarial_signals": fields["adversarial_signals"],
        "confidence_score": fields["confidence_score"],
        "context": context,
        "call": {
            "started_at": _iso(started_ms),
            "ended_at": _iso(ended_ms),
            "duration_s": duration_s
            if duration_s is not None
            else round((ended_ms - started_ms) / 1000),
            "answered_by": call.get("answered_by") or "human",
            "turns": fields["turns"],
        },
    }


def build_transcript(
    *, options: CampaignOptions, call_sid: str, contact: dict[str, str], interview: InterviewState
) -> dict[str, Any]:
    """The call's transcript (turns with speaker, text, confidence and extracted slots)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": options.name,
        "call_id": call_sid,
        "contact_id": contact.get("contact_id"),
        "phone_hash": contact.get("phone_hash"),
        "turns": [turn.model_dump(mode="json") for turn in interview.turns],
    }


# The fields settling reads (settle_call, build_profile, build_transcript): the call's and the
# contact's records are fetched field by field, not whole (a contact carries a dozen fields that
# settling never looks at, and parsing replies is most of a round trip's cost in redis-py).
CALL_FIELDS = ("answered_by", "interview", "answered_at", "created_at", "interrupted")
CONTACT_FIELDS = ("attempts", "phone_hash", "external_id", "webhook_url", "context")


async def settle_call(
    store: CampaignStore,
    options: CampaignOptions,
    *,
    call_sid: str,
    contact_id: str,
    call_status: str,
    duration_s: int | None,
    answered_by: str | None,
    recording_url: str | None = None,
    carrier_lost: bool = False,
) -> Disposition | None:
    """Settle a call that reached a final status, once. Returns the disposition, or None when
    this call had already been settled (a repeated or late callback) or is not the campaign's.

    `carrier_lost`: the carrier has no record of the call (it was lost with the process that
    placed it). Whatever was said cannot be vouched for: it settles as `failed`, retried while
    attempts are left, and keeps no profile."""
    inputs = await store.settle_inputs(
        call_sid, contact_id, call_fields=CALL_FIELDS, contact_fields=CONTACT_FIELDS
    )
    if inputs is None:
        return None
    call, contact = inputs
    contact["contact_id"] = contact_id
    answered_by = answered_by or call.get("answered_by") or None
    interview = (
        InterviewState.model_validate_json(call["interview"])
        if call.get("interview") and not carrier_lost
        else None
    )
    # The operator hung up (a second Ctrl-C) before the person had finished: unless they had
    # already decided (declined, opted out, completed), the contact goes back in the queue,
    # due now, with no profile; the attempt still counts.
    interrupted = call.get("interrupted") == "1" and (
        interview is None or interview.outcome == Outcome.IN_PROGRESS
    )
    if interrupted:
        interview = None
    if interview is not None and interview.outcome == Outcome.IN_PROGRESS:
        on_hangup(interview)
    disposition = disposition_for(call_status, answered_by, interview)
    attempts = int(contact.get("attempts") or 1)
    due_ms: int | None = None
    state = ContactState.final(disposition)
    if interrupted:
        disposition = Disposition.INCOMPLETE
        state, due_ms = ContactState.PENDING, int(time.time() * 1000)
    elif disposition in RETRYABLE and attempts < options.max_attempts:
        state = ContactState.RETRY_WAIT
        due_ms = int(time.time() * 1000) + options.retry_delay_ms(attempts)
    if disposition == Disposition.OPTED_OUT and contact.get("phone_hash"):
        await store.add_dnc(contact["phone_hash"])
    ended_ms = time.time() * 1000
    consent = interview.consent_given if interview is not None else None
    # Every settled call leaves an event: the outbox writes its outcome to the audit trail
    # (durably, by whichever worker takes it) and, with consent, stores and delivers the profile.
    outcome = CallOutcome(
        disposition=disposition,
        consent_given=consent,
        attempt=attempts,
        call_status=call_status,
        interrupted=interrupted,
    )
    event = OutboxEvent(
        type="call.settled",
        campaign=options.name,
        call_id=call_sid,
        contact_id=contact_id,
        phone_hash=contact.get("phone_hash"),
        outcome=outcome,
    )
    if interview is not None and consent and disposition != Disposition.OPTED_OUT:
        event = event.model_copy(
            update={
                "type": "worker_profile.completed",
                "external_id": contact.get("external_id") or None,
                "webhook_url": contact.get("webhook_url") or options.webhook_url,
                "profile": build_profile(
                    options=options,
                    call_sid=call_sid,
                    contact=contact,
                    call=call,
                    interview=interview,
                    disposition=disposition,
                    ended_ms=ended_ms,
                    duration_s=duration_s,
                ),
                "transcript": build_transcript(
                    options=options, call_sid=call_sid, contact=contact, interview=interview
                ),
                "recording_url": recording_url if options.record and recording_url else None,
            }
        )
    recent = {
        "at": int(ended_ms),
        "contact": contact.get("phone_hash", "")[:12],
        "disposition": disposition,
        "attempt": attempts,
        "duration_s": duration_s,
    }
    settled = await store.finish(
        call_sid,
        contact_id,
        state=state,
        disposition=disposition,
        call_status=call_status,
        due_ms=due_ms,
        event=event.to_json(),
        recent=recent,
    )
    return disposition if settled else None
