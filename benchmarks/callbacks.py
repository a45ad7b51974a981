"""P4 and P7: the callback server under load, over loopback HTTP, in its own process.

P4 sends signed status callbacks (ringing, in-progress, completed per call, with Twilio's form
fields) for calls that really exist in Redis, so every request does what it does in production:
check the signature, read the campaign's options, run progress.lua or settle the call. The
baseline is a bare Starlette form endpoint (read the body, parse the form, 204) served by the
same uvicorn setup (`voicedial.http.serve`, voicedial's event loop) in the same kind of child
process, driven by the same load generator; the two are measured in alternation, a few rounds.

P7 plays whole interviews: `/twilio/voice`, then one `/twilio/gather` per turn with what the
emulator's caller (`CallerBrain`, a generated persona) would say to the question it heard,
until the server hangs up. The figure is the HTTP round trip of each gather turn (an upper
bound of the server's time); the server's own `voicedial_turn_seconds` histogram is read from
`/metrics` afterwards and reported beside it.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.load import (
    Connection,
    Reply,
    Request,
    child_server,
    closed_loop,
    encode,
    open_loop,
    percentile,
    send,
)
from voicedial.contacts.parse import Contact
from voicedial.contacts.phones import contact_id_for, phone_hash
from voicedial.emulator.brain import CallerBrain
from voicedial.emulator.personas import generate_persona
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID
from voicedial.state.store import CampaignStore

__all__ = ["run_callbacks", "run_turns"]

TOKEN = "benchmark-auth-token"
CALLER_ID = "+15005550006"
_KEY = b"benchmark-phone-hash-key-0123456"
_SAY = re.compile(r"<Say>(.*?)</Say>", re.S)


# -- the servers (built in the child process) ---------------------------------------------------


async def callback_app(redis_url: str, public_url: str) -> Any:
    """voicedial's callback server, as `campaign run` and `serve` start it."""
    from voicedial.callbacks.server import CallbackServer

    # The pool `voicedial.state.connect.open_redis` gives a campaign's server.
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url,
        socket_timeout=30,
        socket_connect_timeout=5,
        health_check_interval=30,
        max_connections=256,
        timeout=20,
    )
    redis = aioredis.Redis.from_pool(pool)
    server = CallbackServer(redis=redis, auth_token=TOKEN, public_url=public_url, provider=None)
    return server.app


async def bare_app(public_url: str) -> Any:
    """The baseline: a form endpoint and nothing else, on the same stack."""

    async def bare(request: HttpRequest) -> Response:
        dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        return Response(status_code=204)

    async def cpu(request: HttpRequest) -> Response:  # P10: this process's CPU seconds
        return Response(repr(time.process_time()), media_type="text/plain")

    return Starlette(routes=[Route("/twilio/status", bare, methods=["POST"]), Route("/_cpu", cpu)])


# -- state the callbacks refer to -------------------------------------------------------------


async def _calls(url: str, campaign: str, count: int, *, start: int = 0) -> list[tuple[str, str]]:
    """`count` contacts imported, claimed and dialled; returns (contact id, CallSid) pairs."""
    client = aioredis.from_url(url)
    store = CampaignStore(client, campaign)
    options = CampaignOptions(
        name=campaign,
        from_number=CALLER_ID,
        account_sid=SIM_ACCOUNT_SID,
        max_attempts=1,
        max_concurrent=10 * count + 10,
    )
    await store.save_meta(options.model_dump(mode="json"))
    contacts = []
    for i in range(start, start + count):
        e164 = f"+1201{200 + i // 10000}{i % 10000:04d}"
        digest = phone_hash(e164, _KEY)
        contacts.append(
            Contact(
                contact_id=contact_id_for(digest),
                e164=e164,
                phone_hash=digest,
                external_id=f"E{i}",
                name=f"Person {i}",
                timezones=("America/New_York",),
                webhook_url=None,
                context={"city": "Newark"},
                row=i + 1,
            )
        )
    await store.import_contacts(contacts)
    claimed: list[str] = []
    while len(claimed) < count:
        got = await store.claim(
            limit=count - len(claimed),
            max_concurrent=10 * count + 10,
            lease_ms=3_600_000,
            worker="bench",
        )
        if not got:
            break
        claimed += got
    pairs = [(cid, f"CA{start + n:032x}") for n, cid in enumerate(claimed)]
    for cid, sid in pairs:
        await store.record_dial(cid, sid, lease_ms=3_600_000)
    await client.aclose()
    return pairs


def _status_requests(
    port: int, campaign: str, pairs: list[tuple[str, str]], *, signed: bool
) -> list[Request]:
    """Twilio's status callbacks for each call (ringing, in-progress, completed), signed as
    Twilio signs them (computed before the clock starts)."""
    host = f"127.0.0.1:{port}"
    validator = RequestValidator(TOKEN)
    out = []
    for seq, status in enumerate(("ringing", "in-progress", "completed")):
        for n, (cid, sid) in enumerate(pairs):
            path = "/twilio/status?" + urlencode({"c": campaign, "k": cid})
            form = {
                "AccountSid": SIM_ACCOUNT_SID,
                "ApiVersion": "2010-04-01",
                "CallSid": sid,
                "CallStatus": status,
                "CallbackSource": "call-progress-events",
                "Called": f"+1201555{n % 10000:04d}",
                "Caller": CALLER_ID,
                "Direction": "outbound-api",
                "From": CALLER_ID,
                "SequenceNumber": str(seq),
                "Timestamp": "Tue, 01 Apr 2025 12:00:00 +0000",
                "To": f"+1201555{n % 10000:04d}",
            }
            if status == "completed":
                form |= {"CallDuration": "0", "Duration": "0"}
            headers = {}
            if signed:
                headers["X-Twilio-Signature"] = validator.compute_signature(
                    f"http://{host}{path}", form
                )
            out.append(encode(host, path, form, headers))
    return out


def _check(replies: list[Reply], expected: int = 204) -> int:
    return sum(r.status != expected for r in replies)


# -- P4 ------------------------------------------------------------------------------------------


def run_callbacks(
    calls: int = 1500,
    *,
    connections: int = 32,
    rate: float = 500.0,
    rate_seconds: float = 6.0,
    rounds: int = 5,
) -> list[Result]:
    """P4: signed status callbacks/s on one server process against the bare endpoint, then
    latency at a fixed `rate` (open loop, `rate_seconds` long).

    Both servers run side by side and are measured in alternation, `rounds` times, each round
    on calls of its own (a repeated callback is a cheap no-op): on a shared machine a burst of
    other work then lands on both of a round's figures, not on one. The round reported is the
    one with the median ratio; every round is in the details. Both servers first answer a few
    callbacks unmeasured (connections, script loading, lazy imports)."""
    paced_calls = int(rate * rate_seconds / 3)
    warm_calls = min(calls, 100)
    with scratch("p4") as home, fresh_redis(home / "redis") as url:
        every = asyncio.run(_calls(url, "p4", warm_calls + rounds * calls + paced_calls))
        warm, rest = every[:warm_calls], every[warm_calls:]
        batches = [rest[r * calls : (r + 1) * calls] for r in range(rounds)]
        paced_pairs = rest[rounds * calls :]
        with child_server(bare_app) as bare_port, child_server(callback_app, url) as port:

            def load(pairs: list[tuple[str, str]], *, bare: bool) -> tuple[float, list[Reply]]:
                at = bare_port if bare else port
                return asyncio.run(
                    closed_loop(
                        "127.0.0.1",
                        at,
                        _status_requests(at, "p4", pairs, signed=not bare),
                        connections=connections,
                    )
                )

            warm_bare, warm_signed = load(warm, bare=True)[1], load(warm, bare=False)[1]
            bare_rates, signed_rates = [], []
            bare_replies: list[Reply] = []
            replies: list[Reply] = []
            for pairs in batches:
                for bare, rates, out in (
                    (True, bare_rates, bare_replies),
                    (False, signed_rates, replies),
                ):
                    achieved, got = load(pairs, bare=bare)
                    rates.append(achieved)
                    out += got
            bare_paced = asyncio.run(
                open_loop(
                    "127.0.0.1",
                    bare_port,
                    _status_requests(bare_port, "p4", paced_pairs, signed=False),
                    rate=rate,
                    connections=connections * 4,
                )
            )
            paced = asyncio.run(
                open_loop(
                    "127.0.0.1",
                    port,
                    _status_requests(port, "p4", paced_pairs, signed=True),
                    rate=rate,
                    connections=connections * 4,
                )
            )
        states = asyncio.run(_states(url, "p4"))
    settled = sum(v for k, v in states.items() if k not in ("pending", "dialling", "in_call"))
    latencies = [r.seconds * 1000 for r in paced]
    p99 = percentile(latencies, 99)
    errors = _check(warm_signed) + _check(replies) + _check(paced)
    ratios = [signed / bare for signed, bare in zip(signed_rates, bare_rates, strict=True)]
    middle = ratios.index(statistics.median_low(ratios))
    signed_rate, bare_rate, ratio = signed_rates[middle], bare_rates[middle], ratios[middle]
    return [
        Result(
            id="P4",
            what=f"signed status callbacks/s, 1 server, {connections} conns",
            figure=round(signed_rate),
            unit="req/s",
            baseline=round(bare_rate),
            baseline_what="bare form endpoint, same uvicorn, same generator",
            ratio=round(ratio, 3),
            target=">= 0.5x bare",
            passed=ratio >= 0.5 and not errors,
            details={
                "requests": len(replies),
                "rounds": rounds,
                "rounds_req_s": [round(r) for r in signed_rates],
                "rounds_bare_req_s": [round(r) for r in bare_rates],
                "rounds_ratio": [round(r, 3) for r in ratios],
                "non_204": errors,
                "bare_non_204": _check(warm_bare + bare_replies),
                "p50_ms": round(percentile([r.seconds * 1000 for r in replies], 50), 2),
                "calls_settled": settled,
                "calls": len(every),
                "states": states,
            },
        ),
        Result(
            id="P4",
            what=f"callback p99 latency at {rate:g} req/s (open loop)",
            figure=round(p99, 2),
            unit="ms",
            baseline=round(percentile([r.seconds * 1000 for r in bare_paced], 99), 2),
            baseline_what="bare endpoint p99 at the same rate",
            ratio=None,
            target="p99 < 50 ms",
            passed=p99 < 50 and not errors,
            details={
                "requests": len(paced),
                "p50_ms": round(percentile(latencies, 50), 2),
                "p90_ms": round(percentile(latencies, 90), 2),
                "max_ms": round(max(latencies), 2),
            },
        ),
    ]


async def _states(url: str, campaign: str) -> dict[str, int]:
    client = aioredis.from_url(url)
    counts = await CampaignStore(client, campaign).counts()
    await client.aclose()
    return counts


# -- P7 ------------------------------------------------------------------------------------------


def _said(twiml: bytes) -> str:
    return " ".join(unescape(s) for s in _SAY.findall(twiml.decode()))


async def _interview(
    port: int, cid: str, sid: str, brain: CallerBrain, *, max_turns: int
) -> list[float]:
    """One call's interview; returns the seconds of each gather round trip."""
    host = f"127.0.0.1:{port}"
    validator = RequestValidator(TOKEN)
    base = {
        "AccountSid": SIM_ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": "in-progress",
        "From": CALLER_ID,
        "To": "+12015550100",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
    }

    def signed(path: str, form: dict[str, str]) -> Request:
        signature = validator.compute_signature(f"http://{host}{path}", form)
        return encode(host, path, form, {"X-Twilio-Signature": signature})

    path = "/twilio/voice?" + urlencode({"c": "p7", "k": cid})
    (reply,) = await send("127.0.0.1", port, [signed(path, base)])
    if reply.status != 200:
        raise RuntimeError(f"voice: HTTP {reply.status} {reply.body[:200]!r}")
    times = []
    conn = await Connection.open("127.0.0.1", port)  # one connection per call
    try:
        for turn in range(1, max_turns + 1):
            if b"<Hangup" in reply.body:
                break
            answer = brain.reply(_said(reply.body))
            if answer.hangup:
                break
            form = {
                **base,
                "SpeechResult": answer.speech or "",
                "Confidence": str(answer.confidence),
            }
            request = signed("/twilio/gather?" + urlencode({"c": "p7", "k": cid, "t": turn}), form)
            started = time.perf_counter()
            status, body = await conn.send(request)
            reply = Reply(status, body, time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"gather: HTTP {status} {body[:200]!r}")
            times.append(reply.seconds)
    finally:
        await conn.close()
    return times


async def _metrics(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data.decode()


def _histogram(text: str, name: str) -> dict[str, float]:
    """Median and p99 from a Prometheus histogram (upper bucket bounds), with count and mean."""
    buckets = [
        (float(le), float(v)) for le, v in re.findall(rf'{name}_bucket{{le="([^"]+)"}} (\S+)', text)
    ]
    count = float(re.search(rf"{name}_count (\S+)", text).group(1))  # type: ignore[union-attr]
    total = float(re.search(rf"{name}_sum (\S+)", text).group(1))  # type: ignore[union-attr]

    def quantile(q: float) -> float:
        for le, cumulative in buckets:
            if cumulative >= q * count:
                return le
        return float("inf")

    return {
        "count": count,
        "mean_ms": round(total / count * 1000, 2) if count else 0.0,
        "p50_le_ms": quantile(0.5) * 1000,
        "p99_le_ms": quantile(0.99) * 1000,
    }


def run_turns(calls: int = 60, *, concurrent: int = 4, max_turns: int = 30) -> list[Result]:
    """P7: server time per interview turn with the scripted agent (HTTP round trips)."""
    with scratch("p7") as home, fresh_redis(home / "redis") as url:
        pairs = asyncio.run(_calls(url, "p7", calls))

        async def main(port: int) -> tuple[list[float], str]:
            gate = asyncio.Semaphore(concurrent)

            async def one(n: int, cid: str, sid: str) -> list[float]:
                persona = generate_persona(f"+1201555{n:04d}", seed=7).model_copy(
                    update={
                        "answer": "human",
                        "consent": True,
                        "hangup_after_turns": None,
                        "style": "cooperative" if n % 3 else "terse",
                    }
                )
                async with gate:
                    return await _interview(
                        port, cid, sid, CallerBrain(persona, seed=7), max_turns=max_turns
                    )

            done = await asyncio.gather(*(one(n, c, s) for n, (c, s) in enumerate(pairs)))
            return [t for times in done for t in times], await _metrics(port)

        with child_server(callback_app, url) as port:
            times, metrics = asyncio.run(main(port))
    ms = [t * 1000 for t in times]
    median, p99 = percentile(ms, 50), percentile(ms, 99)
    histogram = _histogram(metrics, "voicedial_turn_seconds")
    details = {
        "turns": len(ms),
        "p50_ms": round(median, 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(max(ms), 2),
        "concurrent_calls": concurrent,
        "server_histogram": histogram,
    }
    enough = len(ms) > calls
    return [
        Result(
            id="P7",
            what=f"gather turn median, scripted agent, {calls} calls",
            figure=round(median, 2),
            unit="ms",
            target="median < 20 ms",
            passed=median < 20 and enough,
            details=details,
        ),
        Result(
            id="P7",
            what=f"gather turn p99, scripted agent, {len(ms)} turns",
            figure=round(p99, 2),
            unit="ms",
            target="p99 < 100 ms",
            passed=p99 < 100 and enough,
            details=details,
        ),
    ]
