"""Where a run's callback server listens when another process already has its port.

Two runs on one host are normal: cron starting a run while the last one still dials, or a
second campaign beside the first. A run whose port is taken does not fail:

* when its callback URL is derived from the port (no VOICEDIAL_PUBLIC_URL: the emulator, or
  Twilio reaching this host directly), it takes a free port and says so;
* when VOICEDIAL_PUBLIC_URL is set (a tunnel or load balancer points at the port), and the port
  is held by a voicedial callback server (its /health says so), the run joins it: it dials and
  that server answers its calls' callbacks, as it answers any campaign's on this Redis;
* when something else holds the port, it stops before dialling with one line (exit 2).
"""

from __future__ import annotations

import errno
import socket

import httpx

from voicedial.callbacks.server import HEALTH_SERVICE
from voicedial.errors import UsageError
from voicedial.http import bind_socket

__all__ = ["CallbackPort", "choose_port"]

_PROBE_TIMEOUT_S = 2.0


class CallbackPort:
    """What a run serves its callbacks on: its own socket, or (joined) none."""

    def __init__(self, sock: socket.socket | None, note: str | None) -> None:
        self.sock = sock
        self.note = note  # what to tell the operator, when the asked-for port was taken

    @property
    def port(self) -> int | None:
        """The bound port (None when joined to another process's server)."""
        return None if self.sock is None else int(self.sock.getsockname()[1])

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


async def choose_port(host: str, port: int, *, public_url: str | None) -> CallbackPort:
    """Bind `host:port`, or decide what to do when it is taken (see the module's doc)."""
    try:
        return CallbackPort(bind_socket(host, port), None)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise UsageError(f"--port {port}: cannot listen on {host}: {exc.strerror}") from exc
    if public_url is None:
        sock = bind_socket(host, 0)
        taken = CallbackPort(sock, None)
        taken.note = f"port {port} is in use (another run?): callbacks on port {taken.port}"
        return taken
    if await _is_voicedial(host, port):
        return CallbackPort(
            None,
            f"port {port} is served by another voicedial process: this run dials, and that "
            f"server answers its calls at {public_url} (keep it running until this run ends)",
        )
    raise UsageError(
        f"--port {port} is in use by another program: pass a free --port and point "
        "VOICEDIAL_PUBLIC_URL's tunnel or load balancer at it"
    )


async def _is_voicedial(host: str, port: int) -> bool:
    """Whether a voicedial callback server answers /health on `host:port`."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    netloc = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
    try:
        async with httpx.AsyncClient(timeout=_PROBE_TIMEOUT_S) as client:
            reply = await client.get(f"http://{netloc}/health")
        return bool(reply.json().get("service") == HEALTH_SERVICE)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
