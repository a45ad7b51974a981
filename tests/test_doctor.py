"""`voicedial doctor` against a working set-up and against each broken part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support import CALLER_ID, emulator
from voicedial.campaign.doctor import Check, run_doctor
from voicedial.http import bind_socket, running_server
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, load_settings


def _free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def _models(request: Request) -> JSONResponse:
    if request.headers.get("authorization") != "Bearer sk-good":
        return JSONResponse({"error": {"message": "bad key", "type": "auth"}}, status_code=401)
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "local"}],
        }
    )


@pytest.fixture
async def working(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[int]:
    """Every part configured and reachable; yields the callback port to check."""
    port = _free_port()
    openai_app = Starlette(routes=[Route("/v1/models", _models)])
    async with emulator() as (_, api_url), running_server(openai_app) as openai_url:
        for name, value in {
            "TWILIO_ACCOUNT_SID": SIM_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": SIM_AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": CALLER_ID,
            "VOICEDIAL_TWILIO_API_URL": api_url,
            "VOICEDIAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "VOICEDIAL_STORAGE_URL": f"file://{tmp_path / 'data'}",
            "VOICEDIAL_WEBHOOK_URL": "https://hooks.example.com/in",
            "VOICEDIAL_WEBHOOK_SECRET": "whsec_" + "A" * 32,
            "OPENAI_API_KEY": "sk-good",
            "OPENAI_BASE_URL": openai_url + "/v1",
        }.items():
            monkeypatch.setenv(name, value)
        yield port


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_everything_ok(working: int) -> None:
    checks = _by_name(await run_doctor(load_settings(), port=working))
    assert {n: c.status for n, c in checks.items()} == {
        "redis": "ok",
        "twilio": "ok",
        "public url": "ok",
        "storage": "ok",
        "webhook": "ok",
        "openai": "ok",
    }
    assert "reaches this machine" in checks["public url"].detail


@pytest.mark.parametrize(
    "name, value, check",
    [
        ("REDIS_URL", "redis://127.0.0.1:1/0", "redis"),
        ("TWILIO_AUTH_TOKEN", "wrong-token", "twilio"),
        ("VOICEDIAL_PUBLIC_URL", "http://127.0.0.1:1", "public url"),
        ("VOICEDIAL_STORAGE_URL", "ftp://nowhere/x", "storage"),
        ("VOICEDIAL_WEBHOOK_SECRET", "not-a-secret", "webhook"),
        ("OPENAI_API_KEY", "sk-bad", "openai"),
    ],
)
async def test_each_broken_part_fails_with_a_fix(
    working: int, monkeypatch: pytest.MonkeyPatch, name: str, value: str, check: str
) -> None:
    monkeypatch.setenv(name, value)
    checks = _by_name(await run_doctor(load_settings(), port=working))
    assert checks[check].status == "fail", checks[check]
    assert checks[check].fix
    others = {n: c.status for n, c in checks.items() if n != check}
    assert set(others.values()) == {"ok"}


async def test_redis_that_can_lose_acknowledged_writes_is_a_warning(
    working: int, redis_url: str
) -> None:
    client = aioredis.from_url(redis_url)
    await client.config_set("appendfsync", "everysec")
    try:
        check = _by_name(await run_doctor(load_settings(), port=working))["redis"]
    finally:
        await client.config_set("appendfsync", "always")
        await client.aclose()
    assert check.status == "warn"
    assert "appendfsync everysec" in check.detail and "no replica" in check.detail
