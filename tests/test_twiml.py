"""A turn's TwiML is written out by hand for speed; it must be byte for byte what the twilio
SDK's TwiML classes make of the same turn."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Gather, VoiceResponse

from voicedial.callbacks.twiml import render_twiml
from voicedial.interview import Reply

_SAID = [
    "What is your current job?",
    'Tom & Jerry\'s "deli" <main st> café — ok?',
    "tabs\tand\nnew lines\r\n",
    "",
]
_ACTIONS = [
    "https://dial.example/twilio/gather?c=a&k=b&t=3",
    'http://127.0.0.1:8765/twilio/gather?c=we"ird<name>&k=1',
]


def _sdk(reply: Reply, action: str) -> str:
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


@pytest.mark.parametrize("said", _SAID)
@pytest.mark.parametrize("action", _ACTIONS)
@pytest.mark.parametrize("hangup", [False, True])
def test_a_turn_is_what_the_sdk_would_write(said: str, action: str, hangup: bool) -> None:
    reply = Reply(say=said, hangup=hangup)
    assert render_twiml(reply, action) == _sdk(reply, action)
