"""Serving ASGI apps with uvicorn on the running event loop, on a socket bound up front.

Binding first lets a caller ask for port 0 and learn the real port before the server runs,
which the callback URL (and the tests) need.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["bind_socket", "running_server", "serve"]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket; port 0 picks a free one (read it from getsockname())."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    # The process owns signal handling (campaign runner), not each embedded server.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return server


async def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serve `app` on `sock` until cancelled."""
    server = _server(app)
    try:
        await server.serve(sockets=[sock])
    finally:
        server.should_exit = True


@contextlib.asynccontextmanager
async def running_server(app: ASGIApp, host: str = "127.0.0.1",
                         port: int = 0) -> AsyncIterator[str]:
    """Run `app` in a background task; yield its base URL (``http://host:port``)."""
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    server = _server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        yield f"http://{host}:{actual_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        sock.close()
