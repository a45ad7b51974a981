"""What the callback server says to Twilio: an interview turn as TwiML."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from voicedial.interview import Reply

__all__ = ["render_hold", "render_twiml"]


def render_twiml(reply: Reply, action: str) -> str:
    """A turn as TwiML: the question inside a speech Gather, or the last words and a hang-up."""
    response = VoiceResponse()
    if reply.hangup:
        response.say(reply.say)
        response.hangup()
    else:
        gather = Gather(
            input="speech",
            action=action,
            method="POST",
            timeout=5,
            speech_timeout="auto",
            action_on_empty_result=True,
            language="en-US",
        )
        gather.say(reply.say)
        response.append(gather)
    return str(response)


def render_hold(redirect: str) -> str:
    """A holding turn while Redis cannot be reached: a short phrase, a pause, then the same
    request again (`redirect` carries what the caller said, which a Redirect does not)."""
    response = VoiceResponse()
    response.say("One moment, please.")
    response.pause(length=1)
    response.redirect(redirect, method="POST")
    return str(response)
