"""The webhook URLs a call is placed with. The callback server reads the same query keys back:
`c` the campaign, `k` the contact, `t` the interview turn of a Gather action."""

from __future__ import annotations

from urllib.parse import urlencode

__all__ = ["gather_url", "voice_urls"]


def voice_urls(public_url: str, campaign: str, contact_id: str) -> dict[str, str]:
    """The webhook URLs given to Twilio for one call."""
    query = urlencode({"c": campaign, "k": contact_id})
    base = public_url.rstrip("/")
    return {
        "url": f"{base}/twilio/voice?{query}",
        "status_callback": f"{base}/twilio/status?{query}",
        "amd_callback": f"{base}/twilio/amd?{query}",
    }


def gather_url(campaign: str, contact_id: str, turn: int) -> str:
    """Relative Gather action for the next turn (Twilio resolves it against the voice URL)."""
    return "/twilio/gather?" + urlencode({"c": campaign, "k": contact_id, "t": turn})
