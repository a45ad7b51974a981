"""The Twilio emulator's REST face over real HTTP, through the real twilio SDK: create,
fetch, auth, errors, updates of live calls, and the standalone server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.emulator_rig import (
    ACCOUNT,
    BUSY,
    FROM,
    HUMAN,
    NO_ANSWER,
    TOKEN,
    Env,
    close_client,
    long_pause,
    make_client,
    statuses_seen,
)
from voicedial.emulator import run_emulator
from voicedial.http import bind_socket


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
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
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
            await asyncio.to_thread(
                client.calls.create, to=HUMAN, from_=FROM, url=env.agent.url("/voice")
            )
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


# --- updates of live calls -----------------------------------------------------------


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
    task = asyncio.create_task(
        run_emulator(
            host="127.0.0.1",
            port=port,
            account_sid=ACCOUNT,
            auth_token=TOKEN,
            personas_path=str(personas),
            seed=1,
            speed=100,
        )
    )
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
