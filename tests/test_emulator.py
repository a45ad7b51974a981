"""The Twilio emulator over real HTTP: the real twilio SDK on one side, a small signed-webhook
app playing the callback server on the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from voicedial.emulator import Emulator, Job, Persona, SimCall, run_emulator
from voicedial.http import bind_socket, running_server

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "emulator-test-token"
FROM = "+12015550100"
HUMAN = "+12015550123"
SILENT = "+16175550133"
MACHINE = "+17135550175"
BUSY = "+16025550109"
NO_ANSWER = "+13055550150"
HANGS_UP = "+14155550188"

PERSONAS = {
    p.phone: p for p in [
        Persona(phone=HUMAN, name="Maria Garcia", style="cooperative", skills=["Spanish"],
                jobs=[Job(title="Registered Nurse", company="Mercy General", start_year=2019)]),
        Persona(phone=SILENT, style="silent"),
        Persona(phone=MACHINE, answer="machine"),
        Persona(phone=BUSY, answer="busy"),
        Persona(phone=NO_ANSWER, answer="no-answer"),
        Persona(phone=HANGS_UP, hangup_after_turns=1),
    ]
}

TwimlHandler = Callable[[str, dict[str, str]], str]


def hangup_after_say(path: str, form: dict[str, str]) -> str:
    response = VoiceResponse()
    response.say("Hello from the test.")
    response.hangup()
    return str(response)


class Agent:
    """The callback side: checks every X-Twilio-Signature, records requests, answers TwiML."""

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.forged = 0
        self.handler: TwimlHandler = hangup_after_say
        self.fail_with: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint,
                                           methods=["GET", "POST"])])

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def _endpoint(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if request.method == "GET":
            form = dict(request.query_params)
        signed = RequestValidator(TOKEN).validate(
            str(request.url), form if request.method == "POST" else {},
            request.headers.get("x-twilio-signature", ""))
        if not signed:
            self.forged += 1
            return Response(status_code=403)
        path = request.url.path
        async with self._changed:
            self.requests.append((path, form))
            self._changed.notify_all()
        if path in self.fail_with:
            return Response("boom", status_code=self.fail_with[path])
        if path.startswith("/status") or path.startswith("/amd"):
            return Response(status_code=204)
        return Response(self.handler(path, form), media_type="application/xml")

    def to(self, path: str) -> list[dict[str, str]]:
        return [form for p, form in self.requests if p == path]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)


@dataclass
class Env:
    emulator: Emulator
    agent: Agent
    client: Client
    emulator_url: str

    async def create(self, to: str, **kwargs: Any) -> Any:
        params: dict[str, Any] = {
            "to": to, "from_": FROM, "url": self.agent.url("/voice"),
            "status_callback": self.agent.url("/status"),
            "status_callback_event": ["initiated", "ringing", "answered", "completed"],
        }
        params.update(kwargs)
        return await asyncio.to_thread(self.client.calls.create, **params)

    async def update(self, sid: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.client.calls(sid).update, **kwargs)

    async def fetch(self, sid: str) -> Any:
        return await asyncio.to_thread(self.client.calls(sid).fetch)

    def call(self, sid: str) -> SimCall:
        return self.emulator.calls[sid]


def make_client(base_url: str, token: str = TOKEN) -> Client:
    client = Client(ACCOUNT, token)
    client.api.base_url = base_url
    return client


def close_client(client: Client) -> None:
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    emulator = Emulator(account_sid=ACCOUNT, auth_token=TOKEN, personas=PERSONAS, seed=7,
                        speed=100)
    agent = Agent()
    async with running_server(emulator.app) as emulator_url, \
            running_server(agent.app) as agent_url:
        agent.base_url = agent_url
        client = make_client(emulator_url)
        try:
            yield Env(emulator, agent, client, emulator_url)
        finally:
            close_client(client)
            await emulator.aclose()
    assert agent.forged == 0


# --- REST -----------------------------------------------------------------------------------

async def test_create_fetch_and_status_callbacks(env: Env) -> None:
    call = await env.create(HUMAN)
    assert call.sid.startswith("CA") and len(call.sid) == 34
    assert call.status == "queued" and call.to == HUMAN and call.direction == "outbound-api"
    await env.emulator.wait_idle(5)

    fetched = await env.fetch(call.sid)
    assert fetched.status == "completed" and int(fetched.duration) >= 1
    assert fetched.start_time is not None and fetched.end_time is not None

    statuses = env.agent.to("/status")
    assert [s["CallStatus"] for s in statuses] == [
        "initiated", "ringing", "in-progress", "completed"]
    assert [s["SequenceNumber"] for s in statuses] == ["0", "1", "2", "3"]
    final = statuses[-1]
    assert final["CallbackSource"] == "call-progress-events"
    assert final["Direction"] == "outbound-api" and final["ApiVersion"] == "2010-04-01"
    assert final["CallSid"] == call.sid and final["AccountSid"] == ACCOUNT
    assert int(final["CallDuration"]) >= 1 and final["Timestamp"].endswith("+0000")

    [voice] = env.agent.to("/voice")
    assert voice["CallStatus"] == "in-progress" and voice["To"] == HUMAN
    assert voice["From"] == FROM and "AnsweredBy" not in voice
    assert env.call(call.sid).transcript == [("agent", "Hello from the test.")]
    assert env.emulator.create_times and len(env.emulator.create_times) == 1


async def test_only_requested_events_are_sent(env: Env) -> None:
    await env.create(HUMAN, status_callback_event=["answered"])
    await env.emulator.wait_idle(5)
    assert [s["CallStatus"] for s in env.agent.to("/status")] == ["in-progress", "completed"]
    assert [s["SequenceNumber"] for s in env.agent.to("/status")] == ["0", "1"]


async def test_failing_status_callbacks_do_not_stop_the_call(env: Env) -> None:
    env.agent.fail_with["/status"] = 500
    call = await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    assert env.call(call.sid).status == "completed"
    assert len(env.agent.to("/status")) == 4 and len(env.agent.to("/voice")) == 1
    assert any(e["type"] == "callback-failed" for e in env.call(call.sid).events)


async def test_wrong_credentials_get_401(env: Env) -> None:
    client = make_client(env.emulator_url, token="wrong")
    try:
        with pytest.raises(TwilioRestException) as info:
            await asyncio.to_thread(client.calls.create, to=HUMAN, from_=FROM,
                                    url=env.agent.url("/voice"))
    finally:
        close_client(client)
    assert info.value.status == 401 and info.value.code == 20003
    assert env.emulator.calls == {}


async def test_invalid_to_and_missing_url(env: Env) -> None:
    with pytest.raises(TwilioRestException) as info:
        await env.create("+1555")
    assert info.value.status == 400 and info.value.code == 21211
    assert "not a valid phone number" in info.value.msg
    with pytest.raises(TwilioRestException) as info:
        await env.create(HUMAN, url=None)
    assert info.value.code == 21205


async def test_unknown_call_is_404(env: Env) -> None:
    with pytest.raises(TwilioRestException) as info:
        await env.fetch("CA" + "f" * 32)
    assert info.value.status == 404 and info.value.code == 20404


async def test_injected_429_then_success(env: Env) -> None:
    env.emulator.inject_errors[HUMAN] = [429, 503]
    for status, code in ((429, 20429), (503, 20500)):
        with pytest.raises(TwilioRestException) as info:
            await env.create(HUMAN)
        assert (info.value.status, info.value.code) == (status, code)
    call = await env.create(HUMAN)
    assert call.status == "queued" and len(env.emulator.create_times) == 1
    await env.emulator.wait_idle(5)


@pytest.mark.parametrize(("to", "final"), [(BUSY, "busy"), (NO_ANSWER, "no-answer")])
async def test_unanswered_calls(env: Env, to: str, final: str) -> None:
    call = await env.create(to, timeout=10)
    await env.emulator.wait_idle(5)
    statuses = env.agent.to("/status")
    assert [s["CallStatus"] for s in statuses] == ["initiated", "ringing", final]
    assert statuses[-1]["CallDuration"] == "0"
    assert env.agent.to("/voice") == []
    assert (await env.fetch(call.sid)).status == final


# --- TwiML ----------------------------------------------------------------------------------

def interview(path: str, form: dict[str, str]) -> str:
    questions = ["This call may be recorded. Is it okay to continue?",
                 "Thanks. What do you currently do for a living?",
                 "Any certifications or special skills?"]
    turn = int(path.rsplit("/", 1)[-1]) if path.startswith("/turn/") else 0
    response = VoiceResponse()
    if turn >= len(questions):
        response.say("Thank you, goodbye.")
        response.hangup()
        return str(response)
    gather = Gather(input="speech", action=f"turn/{turn + 1}", method="POST", timeout=3,
                    speech_timeout="auto")
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
    assert "yes" in answers[0].lower() or "sure" in answers[0].lower() or \
        "okay" in answers[0].lower()
    assert "Mercy General" in answers[1]
    assert any(year in answers[1].lower()
               for year in ("2019", "two thousand nineteen", "twenty nineteen"))
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
            gather = Gather(input="speech", action="/empty", timeout=2,
                            action_on_empty_result=True)
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


@pytest.mark.parametrize(("status", "body", "code"), [(500, None, 11200),
                                                      (200, "<Response><Say>", 12100)])
async def test_application_errors_end_the_call(env: Env, status: int, body: str | None,
                                               code: int) -> None:
    if body is None:
        env.agent.fail_with["/voice"] = status
    else:
        env.agent.handler = lambda path, form: body
    call = await env.create(HUMAN)
    await env.emulator.wait_idle(5)
    assert env.call(call.sid).app_error == code
    assert env.call(call.sid).status == "completed"


# --- updates, AMD ---------------------------------------------------------------------------

def long_pause(path: str, form: dict[str, str]) -> str:
    response = VoiceResponse()
    if path == "/voice":
        response.pause(length=600)
    else:
        response.say("Redirected.")
        response.hangup()
    return str(response)


def statuses_seen(agent: Agent, status: str) -> Callable[[], bool]:
    return lambda: any(s["CallStatus"] == status for s in agent.to("/status"))


async def test_hang_up_live_call_via_update(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(HUMAN)
    await env.agent.wait_for(lambda: bool(env.agent.to("/voice")))
    updated = await env.update(call.sid, status="completed")
    assert updated.sid == call.sid and updated.status == "completed"
    await env.emulator.wait_idle(2)
    assert env.call(call.sid).status == "completed"
    assert env.agent.to("/status")[-1]["CallStatus"] == "completed"


async def test_cancel_ringing_call(env: Env) -> None:
    env.emulator.speed = 5  # keep it ringing long enough to cancel
    call = await env.create(HUMAN)
    await env.agent.wait_for(statuses_seen(env.agent, "ringing"))
    assert (await env.update(call.sid, status="canceled")).status == "canceled"
    await env.emulator.wait_idle(2)
    assert (await env.fetch(call.sid)).status == "canceled"
    assert env.agent.to("/status")[-1]["CallStatus"] == "canceled"
    assert env.agent.to("/voice") == []


async def test_redirect_live_call_via_update(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(HUMAN)
    await env.agent.wait_for(lambda: bool(env.agent.to("/voice")))
    await env.update(call.sid, url=env.agent.url("/moved"))
    await env.emulator.wait_idle(2)
    assert len(env.agent.to("/moved")) == 1
    assert env.call(call.sid).transcript == [("agent", "Redirected.")]


async def test_async_amd_reports_machine_and_app_hangs_up(env: Env) -> None:
    env.agent.handler = long_pause
    call = await env.create(MACHINE, machine_detection="DetectMessageEnd", async_amd="true",
                            async_amd_status_callback=env.agent.url("/amd"))
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


async def test_out_of_process_views(env: Env) -> None:
    call = await env.create(HUMAN, record=True)
    await env.emulator.wait_idle(5)
    recording_url = env.agent.to("/status")[-1]["RecordingUrl"]
    async with httpx.AsyncClient() as http:
        calls = (await http.get(f"{env.emulator_url}/_emulator/calls")).json()
        health = (await http.get(f"{env.emulator_url}/_emulator/health")).json()
        wav = await http.get(recording_url, auth=(ACCOUNT, TOKEN))
    assert calls[0]["sid"] == call.sid and calls[0]["status"] == "completed"
    assert calls[0]["transcript"] == [["agent", "Hello from the test."]]
    assert health["ok"] is True and health["live"] == 0
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"


async def test_run_emulator_serves_standalone_until_cancelled() -> None:
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    personas = Path(__file__).resolve().parent.parent / "examples" / "personas.jsonl"
    task = asyncio.create_task(run_emulator(
        host="127.0.0.1", port=port, account_sid=ACCOUNT, auth_token=TOKEN,
        personas_path=str(personas), seed=1, speed=100))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = asyncio.get_running_loop().time() + 5
            while True:  # a deadline poll: the server gives no other sign of being up
                try:
                    health = await http.get("/_emulator/health")
                    break
                except httpx.ConnectError:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.02)
            assert health.json()["ok"] is True
            denied = await http.get(f"/2010-04-01/Accounts/{ACCOUNT}/Calls/CA{'0' * 32}.json")
            assert denied.status_code == 401 and denied.json()["code"] == 20003
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
