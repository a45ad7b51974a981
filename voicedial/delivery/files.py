"""Where a settled call's files go in storage, and writing them.

calls/profiles/{YYYY-MM-DD}/{call_id}/worker_profile.json
calls/transcripts/{YYYY-MM-DD}/{call_id}/transcript.json
calls/audio/{YYYY-MM-DD}/{call_id}/recording.wav
"""

from __future__ import annotations

from voicedial.delivery.events import OutboxEvent
from voicedial.delivery.recordings import RecordingFetcher
from voicedial.delivery.storage import Storage

__all__ = ["PROFILES_PREFIX", "profile_key", "recording_key", "store_event", "transcript_key"]

PROFILES_PREFIX = "calls/profiles/"


def profile_key(event: OutboxEvent) -> str:
    """Where a call's profile is stored."""
    return f"{PROFILES_PREFIX}{event.day}/{event.call_id}/worker_profile.json"


def transcript_key(event: OutboxEvent) -> str:
    """Where a call's transcript is stored."""
    return f"calls/transcripts/{event.day}/{event.call_id}/transcript.json"


def recording_key(day: str, call_id: str) -> str:
    """Where a call's recording is stored."""
    return f"calls/audio/{day}/{call_id}/recording.wav"


async def store_event(
    storage: Storage, event: OutboxEvent, recordings: RecordingFetcher | None = None
) -> None:
    """Write an event's profile, transcript and recording (idempotent: same keys, same
    content). A recording is only fetched when `recordings` is given (a campaign with
    --record) and the call had consent (only profile events reach here)."""
    await storage.put_json(profile_key(event), event.profile)
    if event.transcript is not None:
        await storage.put_json(transcript_key(event), event.transcript)
    if event.recording_url and recordings is not None:
        audio = await recordings.fetch(event.recording_url)
        if audio is not None:
            await storage.put_bytes(recording_key(event.day, event.call_id), audio, "audio/wav")
