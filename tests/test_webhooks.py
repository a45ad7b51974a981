"""Webhook messages, signatures, the retry schedule and the address guard. Signatures are checked
with the `standardwebhooks` package's own `Webhook.verify`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from standardwebhooks import Webhook

from voicedial.delivery.events import OutboxEvent
from voicedial.delivery.webhooks import (
    RetrySchedule,
    WebhookRefused,
    WebhookSender,
    check_webhook_url,
    webhook_body,
)
from voicedial.errors import ConfigError, DeliveryError

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def event(call_id: str = "CA1") -> OutboxEvent:
    return OutboxEvent.model_validate(
        {
            "type": "worker_profile.completed",
            "campaign": "c",
            "call_id": call_id,
            "contact_id": "k1",
            "external_id": "X1",
            "webhook_url": "https://hooks.example/in",
            "profile": {
                "schema_version": 1,
                "phone_hash": "ab" * 32,
                "call": {"ended_at": "2026-11-25T10:00:00Z"},
            },
        }
    )


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def test_schedule_parse_and_default_is_standard_webhooks_like() -> None:
    assert RetrySchedule().delays_s == (0, 5, 300, 1800, 7200, 18000, 36000)
    assert RetrySchedule.parse("0, 5s, 5m, 30m, 2h, 5h, 10h") == RetrySchedule()
    assert RetrySchedule.parse("0,100ms,1").delays_s == (0, 0.1, 1)
    for bad in ("", "soon", "1,-2"):
        with pytest.raises(ConfigError):
            RetrySchedule.parse(bad)


def test_next_delay_jitter_retry_after_and_end() -> None:
    schedule = RetrySchedule(delays_s=(0, 10, 100), jitter=0.2)
    rng = random.Random(1)
    delays = [schedule.next_delay(1, rng=rng) for _ in range(200)]
    assert all(d is not None and 8 <= d <= 12 for d in delays)
    assert len({round(d or 0, 3) for d in delays}) > 100  # spread, not one value
    assert schedule.next_delay(1, retry_after_s=60, rng=rng) == 60
    assert 80 <= (schedule.next_delay(2, retry_after_s=1, rng=rng) or 0) <= 120
    assert schedule.next_delay(3) is None
    capped = RetrySchedule(delays_s=(0, 1), max_retry_after_s=30)
    assert capped.next_delay(1, retry_after_s=10**6) == 30


def test_body_is_spec_shaped_and_stable() -> None:
    body = json.loads(webhook_body(event()))
    assert body == {
        "type": "worker_profile.completed",
        "timestamp": "2026-11-25T10:00:00Z",
        "data": {
            "campaign": "c",
            "call_id": "CA1",
            "external_id": "X1",
            "profile": event().profile,
        },
    }
    assert webhook_body(event()) == webhook_body(event())
    assert event().webhook_id == "msg_CA1"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
async def test_guard_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(WebhookRefused, match="non-public"):
        await check_webhook_url(
            "https://hooks.example/in",
            allow_private=False,
            resolver=resolver_to("93.184.216.34", address),
        )
    await check_webhook_url(
        "https://hooks.example/in", allow_private=True, resolver=resolver_to(address)
    )


async def test_guard_literal_addresses_schemes_and_dns_failure() -> None:
    with pytest.raises(WebhookRefused):
        await check_webhook_url("http://127.0.0.1:9/x", allow_private=False)
    with pytest.raises(WebhookRefused):
        await check_webhook_url("http://[::1]/x", allow_private=False)
    with pytest.raises(WebhookRefused, match="http"):
        await check_webhook_url("file:///etc/passwd", allow_private=True)
    await check_webhook_url("https://93.184.216.34/x", allow_private=False)

    async def broken(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(DeliveryError) as info:
        await check_webhook_url("https://nowhere.example/", allow_private=False, resolver=broken)
    assert not isinstance(info.value, WebhookRefused)  # retried, not refused


async def test_send_signs_verifiably_and_reads_retry_after() -> None:
    seen: list[httpx.Request] = []
    later = datetime.now(UTC) + timedelta(seconds=120)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"Retry-After": "7"})
        if len(seen) == 2:
            return httpx.Response(429, headers={"Retry-After": format_datetime(later, True)})
        return httpx.Response(202)

    sender = WebhookSender(
        secret=SECRET, transport=httpx.MockTransport(handler), resolver=resolver_to("93.184.216.34")
    )
    first = await sender.send("https://hooks.example/in", event())
    second = await sender.send("https://hooks.example/in", event())
    third = await sender.send("https://hooks.example/in", event())
    await sender.aclose()
    assert (first.ok, first.status, first.retry_after_s) == (False, 503, 7.0)
    assert second.retry_after_s is not None and 100 < second.retry_after_s <= 120
    assert third.ok and third.status == 202
    verifier = Webhook(SECRET)
    for request in seen:
        payload = verifier.verify(request.content, dict(request.headers))
        assert payload["data"]["call_id"] == "CA1"
        assert request.headers["webhook-id"] == "msg_CA1"


async def test_send_refuses_without_secret_or_to_private_and_fails_on_redirect() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    transport = httpx.MockTransport(handler)
    unsigned = await WebhookSender(secret=None, transport=transport).send(
        "https://hooks.example/in", event()
    )
    assert unsigned.permanent and "SECRET" in unsigned.error
    sender = WebhookSender(secret=SECRET, transport=transport)
    private = await sender.send("http://10.0.0.8/in", event())
    assert private.permanent and "non-public" in private.error and calls == 0
    sender.resolver = resolver_to("93.184.216.34")
    redirected = await sender.send("https://hooks.example/in", event())
    await sender.aclose()
    # A redirect is never followed (it could lead past the guard), so a retry cannot help.
    assert not redirected.ok and redirected.permanent and redirected.status == 302


@pytest.mark.parametrize(
    "status, permanent",
    [
        (400, True),
        (404, True),
        (410, True),
        (408, False),
        (409, False),
        (425, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
async def test_which_answers_are_retried(status: int, permanent: bool) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status))
    sender = WebhookSender(
        secret=SECRET, transport=transport, resolver=resolver_to("93.184.216.34")
    )
    result = await sender.send("https://hooks.example/in", event())
    await sender.aclose()
    assert not result.ok and result.status == status and result.permanent == permanent
    assert str(status) in result.error


async def test_a_receiver_that_trickles_its_answer_meets_one_total_deadline() -> None:
    served, done = asyncio.Event(), asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if (task := asyncio.current_task()) is not None:
            handlers.append(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            served.set()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
            for _ in range(50):  # one byte every 0.2 s: each read is quick, the whole is 10 s
                if done.is_set():
                    break
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(secret=SECRET, allow_private=True, timeout_s=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await sender.send(f"http://127.0.0.1:{port}/in", event())
    elapsed = loop.time() - started
    await sender.aclose()
    done.set()
    await asyncio.gather(*handlers, return_exceptions=True)
    server.close()
    await server.wait_closed()
    assert served.is_set()
    assert not result.ok and not result.permanent and "within 1s" in result.error
    assert elapsed < 5  # the attempt ended at its deadline, not when the receiver finished


def test_bad_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        WebhookSender(secret="whsec_!!!not base64!!!")
