"""Serving ASGI apps with uvicorn on the running event loop, on a socket bound up front.

Binding first lets a caller ask for port 0 and learn the real port before the server runs,
which the callback URL (and the tests) need.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["BackgroundServer", "bind_socket", "running_server", "serve"]

_STOP_TIMEOUT_S = 5.0


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket; port 0 picks a free one (read it from getsockname())."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it a response written as headers + body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: the process (campaign runner, CLI) owns signals,
    and several servers share one loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: ASGIApp) -> _Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        backlog=2048,
    )
    return _Server(config)


async def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serve `app` on `sock` until the task is cancelled (standalone commands), then stop
    gracefully: a uvicorn server cancelled mid-serve leaves its listener open, and uvloop's
    loop then never finishes closing."""
    server = BackgroundServer(app, sock)
    await server.start()
    try:
        await asyncio.Future()  # until cancelled
    finally:
        await server.stop()


class BackgroundServer:
    """A server run as a task of the current loop, stopped gracefully (cancelling uvicorn's
    serve task leaves it half shut down)."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self._server = _server(app)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Finish in-flight requests and stop (bounded)."""
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), _STOP_TIMEOUT_S)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        finally:
            self._task = None
            self.sock.close()


@contextlib.asynccontextmanager
async def running_server(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Run `app` in the background; yield its base URL (``http://host:port``)."""
    server = BackgroundServer(app, bind_socket(host, port))
    await server.start()
    try:
        yield f"http://{host}:{server.port}"
    finally:
        await server.stop()
