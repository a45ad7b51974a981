"""The emulator playing calls: TwiML executed turn by turn (Gather, Redirect, Pause,
Hangup, application errors), answering machines and time limits."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Gather, VoiceResponse

from tests.emulator_rig import (
    HANGS_UP,
    HUMAN,
    MACHINE,
    SILENT,
    Env,
    long_pause,
)

# --- TwiML ----------------------------------------------------------------------------------


def interview(path: str, form: dict[str, str]) -> str:
    questions = [
        "This call may be recorded. Is it okay to continue?",
        "Thanks. What do you currently do for a living?",
        "Any certifications or special skills?",
    ]
    turn = int(path.rsplit("/", 1)[-1]) if path.startswith("/turn/") else 0
    response = VoiceResponse()
    if turn >= len(questions):
        response.say("Thank you, goodbye.")
        response.hangup()
        return str(response)
    gather = Gather(
        input="speech", action=f"turn/{turn + 1}", method="POST", timeout=3, speech_timeout="auto"
    )
    gather.say(questions[turn])
    response.append(gather)
    response.say("We did not hear you.")
    return str(response)


async def test_human_answers_gather_turns(env: Env) -> None:
    env.agent.handler = interview
    call = await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    turns = [form for path, form in env.agent.requests if path.startswith("/turn/")]
    assert len(turns) == 3
    answers = [t["SpeechResult"] for t in turns]
    assert (
        "yes" in answers[0].lower() or "sure" in answers[0].lower() or "okay" in answers[0].lower()
    )
    assert "Mercy General" in answers[1]
    assert any(
        year in answers[1].lower() for year in ("2019", "two thousand nineteen", "twenty nineteen")
    )
    assert "Spanish" in answers[2]
    assert all(0.0 <= float(t["Confidence"]) <= 1.0 for t in turns)
    transcript = env.call(call.sid).transcript
    assert [speaker for speaker, _ in transcript] == ["agent", "caller"] * 3 + ["agent"]
    assert env.call(call.sid).status == "completed"


async def test_caller_hangs_up_after_turns(env: Env) -> None:
    env.agent.handler = interview
    call = await env.create(HANGS_UP)
    await env.emulator.wait_idle(5)
    assert len([p for p, _ in env.agent.requests if p.startswith("/turn/")]) == 1
    assert env.call(call.sid).status == "completed"
    hangups = [e for e in env.call(call.sid).events if e["type"] == "hangup"]
    assert [e["source"] for e in hangups] == ["caller"]


async def test_aclose_ends_live_calls(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(HUMAN)
    await env.agent.wait_for(lambda: bool(env.agent.to("/voice")))
    await env.emulator.aclose()
    assert env.call(call.sid).status == "completed"
    await env.emulator.wait_idle(0.1)


async def test_silent_caller_and_action_on_empty_result(env: Env) -> None:
    def twiml(path: str, form: dict[str, str]) -> str:
        response = VoiceResponse()
        if path == "/voice":
            gather = Gather(input="speech", action="/empty", timeout=2, action_on_empty_result=True)
            gather.say("Are you there?")
            response.append(gather)
        else:
            response.hangup()
        return str(response)

    env.agent.handler = twiml
    await env.create(SILENT)
    await env.emulator.wait_idle(5)
    [empty] = env.agent.to("/empty")
    assert "SpeechResult" not in empty and "Digits" not in empty


async def test_empty_gather_falls_through_to_next_verb(env: Env) -> None:
    def twiml(path: str, form: dict[str, str]) -> str:
        response = VoiceResponse()
        gather = Gather(input="speech", action="/never", timeout=1)
        gather.say("Hello?")
        response.append(gather)
        response.say("Falling through.")
        return str(response)

    env.agent.handler = twiml
    call = await env.create(SILENT)
    await env.emulator.wait_idle(5)
    assert env.agent.to("/never") == []
    assert env.call(call.sid).transcript[-1] == ("agent", "Falling through.")
    assert env.call(call.sid).status == "completed"


async def test_dtmf_gather_posts_digits(env: Env) -> None:
    def twiml(path: str, form: dict[str, str]) -> str:
        response = VoiceResponse()
        if path == "/voice":
            gather = Gather(input="dtmf", action="/digits", num_digits=1)
            gather.say("Press 1 to continue or press 2 to stop.")
            response.append(gather)
        return str(response)

    env.agent.handler = twiml
    await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    assert env.agent.to("/digits")[0]["Digits"] == "1"


async def test_relative_redirect_and_get_method(env: Env) -> None:
    def twiml(path: str, form: dict[str, str]) -> str:
        response = VoiceResponse()
        if path == "/voice":
            response.redirect("next?step=2", method="GET")
        else:
            response.say(f"Step {form.get('step')}.")
        return str(response)

    env.agent.handler = twiml
    call = await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    [nxt] = env.agent.to("/next")
    assert nxt["step"] == "2" and nxt["CallSid"] == call.sid
    assert env.call(call.sid).transcript == [("agent", "Step 2.")]


@pytest.mark.parametrize(
    ("status", "body", "code"), [(500, None, 11200), (200, "<Response><Say>", 12100)]
)
async def test_application_errors_end_the_call(
    env: Env, status: int, body: str | None, code: int
) -> None:
    if body is None:
        env.agent.fail_with["/voice"] = status
    else:
        env.agent.handler = lambda path, form: body
    call = await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    assert env.call(call.sid).app_error == code
    assert env.call(call.sid).status == "completed"


# --- AMD, time limits ---------------------------------------------------------------


async def test_async_amd_reports_machine_and_app_hangs_up(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(
        MACHINE,
        machine_detection="DetectMessageEnd",
        async_amd="true",
        async_amd_status_callback=env.agent.url("/amd"),
    )
    await env.agent.wait_for(lambda: bool(env.agent.to("/amd")))
    [amd] = env.agent.to("/amd")
    assert amd["AnsweredBy"] == "machine_end_beep" and amd["CallSid"] == call.sid
    assert int(amd["MachineDetectionDuration"]) > 0
    await env.update(call.sid, status="completed")
    await env.emulator.wait_idle(2)
    fetched = await env.fetch(call.sid)
    assert fetched.status == "completed" and fetched.answered_by == "machine_end_beep"
    assert int(fetched.duration) < 600


async def test_sync_amd_puts_answered_by_on_the_voice_request(env: Env) -> None:
    await env.create(HUMAN, machine_detection="Enable")
    await env.emulator.wait_idle(5)
    assert env.agent.to("/voice")[0]["AnsweredBy"] == "human"


async def test_time_limit_ends_the_call(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(HUMAN, time_limit=5)
    await env.emulator.wait_idle(2)
    assert env.call(call.sid).status == "completed"
    assert env.call(call.sid).duration is not None and env.call(call.sid).duration <= 10
