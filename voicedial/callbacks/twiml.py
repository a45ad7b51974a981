"""What the callback server says to Twilio: an interview turn as TwiML."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from voicedial.interview import Reply

__all__ = ["render_hold", "render_twiml"]


# A turn is the same two shapes every time: written out here instead of built through the
# twilio SDK's TwiML classes (ElementTree underneath), which took a sixth of the callback
# server's CPU per Gather turn (P10). The bytes are the SDK's: tests/test_twiml.py checks it.
_GATHER = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action={action} '
    'actionOnEmptyResult="true" input="speech" language="en-US" method="POST" '
    'speechTimeout="auto" timeout="5">{say}</Gather></Response>'
)
_LAST = '<?xml version="1.0" encoding="UTF-8"?><Response>{say}<Hangup /></Response>'


def _text(value: str) -> str:
    """XML character data, escaped as ElementTree escapes it."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    """A quoted XML attribute value, escaped as ElementTree escapes it."""
    escaped = _text(value).replace('"', "&quot;")
    escaped = escaped.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")
    return f'"{escaped}"'


def _say(text: str) -> str:
    return f"<Say>{_text(text)}</Say>" if text else "<Say />"


def render_twiml(reply: Reply, action: str) -> str:
    """A turn as TwiML: the question inside a speech Gather, or the last words and a hang-up."""
    if reply.hangup:
        return _LAST.format(say=_say(reply.say))
    return _GATHER.format(action=_attribute(action), say=_say(reply.say))


def render_hold(redirect: str) -> str:
    """A holding turn while Redis cannot be reached: a short phrase, a pause, then the same
    request again (`redirect` carries what the caller said, which a Redirect does not)."""
    response = VoiceResponse()
    response.say("One moment, please.")
    response.pause(length=1)
    response.redirect(redirect, method="POST")
    return str(response)
