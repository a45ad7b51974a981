"""The emulator test rig: the emulator and a small signed-webhook app playing the callback
server, both over real HTTP, with the real twilio SDK as the client (the `env` fixture,
registered for every test by conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from voicedial.emulator import Emulator, Job, Persona, SimCall
from voicedial.http import running_server

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
    p.phone: p
    for p in [
        Persona(
            phone=HUMAN,
            name="Maria Garcia",
            style="cooperative",
            skills=["Spanish"],
            jobs=[Job(title="Registered Nurse", company="Mercy General", start_year=2019)],
        ),
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
        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])]
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def _endpoint(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if request.method == "GET":
            form = dict(request.query_params)
        signed = RequestValidator(TOKEN).validate(
            str(request.url),
            form if request.method == "POST" else {},
            request.headers.get("x-twilio-signature", ""),
        )
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
            "to": to,
            "from_": FROM,
            "url": self.agent.url("/voice"),
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
    emulator = Emulator(account_sid=ACCOUNT, auth_token=TOKEN, personas=PERSONAS, seed=7, speed=100)
    agent = Agent()
    async with running_server(emulator.app) as emulator_url, running_server(agent.app) as agent_url:
        agent.base_url = agent_url
        client = make_client(emulator_url)
        try:
            yield Env(emulator, agent, client, emulator_url)
        finally:
            close_client(client)
            await emulator.aclose()
    assert agent.forged == 0


def long_pause(path: str, form: dict[str, str]) -> str:
    """TwiML that keeps a call live (a long pause), and hangs up after a redirect."""
    response = VoiceResponse()
    if path == "/voice":
        response.pause(length=600)
    else:
        response.say("Redirected.")
        response.hangup()
    return str(response)


def statuses_seen(agent: Agent, status: str) -> Callable[[], bool]:
    """A condition for `Agent.wait_for`: a status callback with this status arrived."""
    return lambda: any(s["CallStatus"] == status for s in agent.to("/status"))
