"""A small HTTP/1.1 load generator for loopback benchmarks (P4, P7), and a server in a child
process to aim it at.

Requests are encoded before the clock starts and sent over keep-alive connections with asyncio
streams, so the generator costs a few tens of microseconds a request and the server, not the
client, is what gets measured. Two modes: closed loop (N connections, each sending as soon as
its previous answer arrived: throughput) and open loop (requests scheduled at a fixed rate,
latency counted from the scheduled time, so a stalled server cannot hide its queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "Connection",
    "Reply",
    "Request",
    "child_server",
    "closed_loop",
    "emulator_app",
    "encode",
    "open_loop",
    "percentile",
    "send",
]


@dataclass(frozen=True)
class Request:
    """One POST, encoded once: the bytes to write."""

    raw: bytes


@dataclass(frozen=True)
class Reply:
    """One answer: status, body, and the seconds it took (from send, or from schedule)."""

    status: int
    body: bytes
    seconds: float


def encode(
    host: str, path: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> Request:
    """A form POST as HTTP/1.1 bytes (keep-alive)."""
    body = urlencode(form).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return Request(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


class Connection:
    """One keep-alive connection; `send` writes a request and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: Request) -> tuple[int, bytes]:
        self.writer.write(request.raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += (await self.reader.readexactly(size + 2))[:size]
                if size == 0:
                    break
            return status, body
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def send(host: str, port: int, requests: list[Request]) -> list[Reply]:
    """Send `requests` one after another on one connection (a conversation)."""
    conn = await Connection.open(host, port)
    out = []
    try:
        for request in requests:
            started = time.perf_counter()
            status, body = await conn.send(request)
            out.append(Reply(status, body, time.perf_counter() - started))
    finally:
        await conn.close()
    return out


async def closed_loop(
    host: str, port: int, requests: list[Request], *, connections: int
) -> tuple[float, list[Reply]]:
    """Send every request over `connections` busy connections; (requests/s, replies)."""
    conns = [await Connection.open(host, port) for _ in range(connections)]
    queue = iter(range(len(requests)))
    replies: list[Reply | None] = [None] * len(requests)

    async def pump(conn: Connection) -> None:
        for i in queue:
            sent = time.perf_counter()
            try:
                status, body = await conn.send(requests[i])
            except (OSError, asyncio.IncompleteReadError) as exc:  # counted, not fatal
                replies[i] = Reply(0, repr(exc).encode(), time.perf_counter() - sent)
                conn = await Connection.open(host, port)
                continue
            replies[i] = Reply(status, body, time.perf_counter() - sent)

    with _no_collections():
        started = time.perf_counter()
        await asyncio.gather(*(pump(c) for c in conns))
        wall = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    return len(requests) / wall, [r for r in replies if r is not None]


async def open_loop(
    host: str, port: int, requests: list[Request], *, rate: float, connections: int
) -> list[Reply]:
    """Send request i at start + i / rate on a free connection (one more is opened when all
    are busy, up to `connections`); latency counts from the scheduled time."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    opened = 0
    replies: list[Reply] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(request: Request, due: float) -> None:
        nonlocal opened
        if idle.empty() and opened < connections:
            opened += 1
            conn = await Connection.open(host, port)
        else:
            conn = await idle.get()
        try:
            status, body = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError) as exc:  # counted, not fatal
            replies.append(Reply(0, repr(exc).encode(), time.perf_counter() - due))
            idle.put_nowait(await Connection.open(host, port))
            return
        replies.append(Reply(status, body, time.perf_counter() - due))
        idle.put_nowait(conn)

    for _ in range(min(8, connections)):  # warm connections, as a busy Twilio has
        idle.put_nowait(await Connection.open(host, port))
        opened += 1
    with _no_collections():
        start = time.perf_counter() + 0.05
        for i, request in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request, due)))
        await asyncio.gather(*tasks)
    while not idle.empty():
        await idle.get_nowait().close()
    return replies


@contextlib.contextmanager
def _no_collections() -> Iterator[None]:
    """No garbage collection in the generator during a timed run: a full collection over the
    requests and replies it holds takes tens of milliseconds, which would land on whichever
    server happened to be measured (references still free what they free)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _child(target: Callable[..., Any], args: tuple[Any, ...], port_to: Pipe, priority: int) -> None:
    import logging
    import os

    if priority:
        # The measuring instrument (the emulator stamping creates) ahead of a deliberately
        # loaded machine: the figure is then the dialler's timing, not the instrument's
        # scheduling delays (root only; otherwise as it is).
        with contextlib.suppress(PermissionError):
            os.nice(-priority)

    from voicedial.http import bind_socket, serve
    from voicedial.process import tune_gc

    logging.disable(logging.WARNING)  # the emulator reports callbacks it could not deliver
    tune_gc()  # as every voicedial command does (cli.main), for both servers alike

    async def main() -> None:
        sock = bind_socket("127.0.0.1", 0)
        app = await target(*args, f"http://127.0.0.1:{sock.getsockname()[1]}")
        port_to.send(sock.getsockname()[1])
        await serve(app, sock)

    asyncio.run(main())


@contextlib.contextmanager
def child_server(
    target: Callable[..., Any], *args: Any, timeout: float = 30.0, priority: int = 0
) -> Iterator[int]:
    """Serve the ASGI app that `await target(*args, public_url)` builds, in a child process
    (its own interpreter and core, as a callback server runs), with voicedial's uvicorn
    setup; yields the port. `target` must be importable (spawn)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send_port = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(target, args, send_port, priority), daemon=True)
    proc.start()
    try:
        if not receive.poll(timeout):
            raise RuntimeError("benchmark server did not start")
        yield int(receive.recv())
    finally:
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()


async def emulator_app(answer: str, speed: float, public_url: str) -> Any:
    """The Twilio emulator (every number played by a persona answering `answer`), with one
    more route, ``GET /_bench/create_times``: when each call was created (the figure P2, P3
    and P5 measure, taken where Twilio would see it)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from voicedial.emulator import Emulator, Persona
    from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN

    emulator = Emulator(account_sid=SIM_ACCOUNT_SID, auth_token=SIM_AUTH_TOKEN, seed=1, speed=speed)

    async def create_times(request: Any) -> JSONResponse:
        return JSONResponse(
            {
                "times": emulator.create_times,
                "to": [c.to for c in emulator.calls.values()],
                "requests": emulator.http.sent,
            }
        )

    if answer == "cooperative":  # every call a completed interview, as the tests' callers
        from tests.support import cooperative

        emulator.persona_for = cooperative  # type: ignore[method-assign]
    elif answer != "generated":  # else: the emulator's own generated personas, a mix of callers
        emulator.persona_for = lambda phone: Persona(  # type: ignore[method-assign]
            phone=phone, answer=answer, consent=False
        )  # type: ignore[arg-type]
    return Starlette(
        routes=[Route("/_bench/create_times", create_times), Mount("/", app=emulator.app)]
    )
