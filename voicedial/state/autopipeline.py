"""A Redis client that pipelines the commands of concurrent tasks (auto-pipelining).

Every command redis-py sends costs a round trip: a socket write, a wake-up of the event loop
for the reply, a connection taken from the pool and given back, and Python work around all of
it, more than the command itself for a small Lua script. The callback server under a burst of
callbacks has dozens of requests each waiting on one such command. Here the commands are queued
and sent together, a batch per round trip: one write, one read, each command still executed
(and each script still atomic) on its own. A command issued alone goes out as it would without
this client, one loop turn later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_hiredis_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    import hiredis

    _hiredis_pack = hiredis.pack_command
except ImportError:  # hiredis is a dependency; this only keeps a bare redis-py working
    _hiredis_pack = None

__all__ = ["AutoPipelinedRedis"]

_Queued = tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]


class AutoPipelinedRedis(Redis):
    """`redis` (same pool, same reply parsing) with auto-pipelined commands.

    Commands go out in batches on one connection of the pool, one batch at a time: those
    issued while a batch is out make the next one, so the busier the server, the larger the
    batches. Hence not for blocking commands (BLPOP, XREAD BLOCK ...): one would hold up all
    the others. `pipeline()` gives an ordinary pipeline on the pool.

    Errors stay per command: a command's own error (a script's, a wrong type, NOSCRIPT) is
    raised to the task that issued it only; a connection error, after the connection's retries
    of the whole batch, to every task in it. Every script here may safely run twice (each
    checks a sequence number or a final flag), as with redis-py's retries of one command.
    `aclose()` returns the connection to the pool and leaves the pool open."""

    def __init__(self, redis: Redis) -> None:
        super().__init__(connection_pool=redis.connection_pool)
        self.response_callbacks = redis.response_callbacks
        self._queued: list[_Queued] = []
        self._in_flight: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None
        self._timeout: float | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Queue the command for the next batch and wait for its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((args, options, future))
        if self._sender is None:
            # The sender is a task of its own, whose first step comes once the tasks runnable
            # in this turn have queued their commands; a cancelled caller cannot cut the others'
            # commands short (or leave a half-read reply on the connection).
            self._sender = loop.create_task(self._send_queued())
            self._sender.add_done_callback(self._sender_done)
        return await future

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Give the connection back to the pool (which stays open)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.socket_timeout = self._timeout
            await self.connection_pool.release(conn)
        await super().aclose(close_connection_pool)

    async def _connect(self) -> AbstractConnection:
        # redis-py leaves get_connection unannotated.
        conn: AbstractConnection = await self.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        # One deadline for a whole exchange (in `_replies`) instead of redis-py's per read, and
        # a task per write, that the pool's socket timeout would cost.
        self._timeout, conn.socket_timeout = conn.socket_timeout, None
        self._conn = conn
        return conn

    async def _send_queued(self) -> None:
        """Send what is queued, a batch at a time, until nothing is."""
        while self._queued:
            self._in_flight, self._queued = self._queued, []
            try:
                replies = await self._replies(self._in_flight)
            except Exception as exc:  # the connection failed: every caller gets the error
                replies = [exc] * len(self._in_flight)
            for (_, _, future), reply in zip(self._in_flight, replies, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
            self._in_flight = []
        self._sender = None  # in the step that saw the queue empty: nothing slips in between

    def _sender_done(self, task: asyncio.Task[None]) -> None:
        if self._sender is not task:  # it ended as it should
            return
        # Cancelled (a loop shutting down): its callers and the queued ones get cancelled.
        self._sender = None
        left, self._in_flight, self._queued = [*self._in_flight, *self._queued], [], []
        for _, _, future in left:
            if not future.done():
                future.cancel()

    async def _replies(self, batch: list[_Queued]) -> list[Any]:
        """Each command's reply, or its own error, in order (what redis-py's non-transactional
        pipeline does, on the same connection API, with the commands packed by hiredis)."""
        conn = self._conn or await self._connect()

        async def exchange() -> list[Any]:
            try:
                async with asyncio.timeout(self._timeout):
                    await conn.send_packed_command(_pack(conn, [args for args, _, _ in batch]))
                    replies: list[Any] = []
                    for args, options, _ in batch:
                        try:
                            # Annotated for Connection; any AbstractConnection parses alike.
                            replies.append(
                                await self.parse_response(conn, args[0], **options)  # type: ignore[arg-type]
                            )
                        except ResponseError as exc:
                            replies.append(exc)
                    return replies
            except TimeoutError:
                raise RedisTimeoutError("Timeout exchanging a batch with Redis") from None

        async def failed(error: Exception) -> None:
            await conn.disconnect()

        try:
            return await conn.retry.call_with_retry(exchange, failed)
        except BaseException:
            # Replies may be left unread: start afresh (the next send reconnects).
            await conn.disconnect(nowait=True)
            raise


def _pack(conn: AbstractConnection, commands: Sequence[tuple[Any, ...]]) -> list[bytes]:
    """The commands in Redis' wire protocol. hiredis packs in C what redis-py packs argument by
    argument in Python (most of the client's time for a script with a dozen arguments); the
    bytes are the same. redis-py packs what hiredis does not take (other encodings, memoryview,
    its errors for unsupported types)."""
    encoder = conn.encoder
    if _hiredis_pack is None or (encoder.encoding, encoder.encoding_errors) != ("utf-8", "strict"):
        return list(conn.pack_commands(commands))
    packed = []
    for args in commands:
        name = args[0]
        if isinstance(name, str) and " " in name:  # "SCRIPT LOAD": two words on the wire
            args = (*name.split(), *args[1:])
        try:
            packed.append(_hiredis_pack(args))
        except TypeError:
            packed.extend(conn.pack_command(*args))
    return [b"".join(packed)]
