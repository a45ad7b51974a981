"""Riding out a Redis outage.

Every command a process sends goes through redis-py's retry hook (`Retry.call_with_retry`, which
wraps each command, pipeline and reconnect). Ours retries a connection failure with capped
backoff for as long as the process's outage has lasted less than the grace: a restart, a
failover or a network blip pauses the work that needs Redis (dialling, callbacks, delivery)
instead of failing it. The outage is shared by every connection of the process, so the grace is
measured from the first failure any of them saw, and one success anywhere ends it. Past the
grace, commands fail at once with `RedisOutage` (exit 75) until Redis answers again.

Retrying a command is safe here because each write voicedial makes may run twice: every Lua
script checks a sequence number, a final flag or a lease before it changes anything, and a claim
whose answer was lost leaves its contacts leased until the reconciler asks Twilio about them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicedial.errors import RedisOutage, RedisUnavailable

__all__ = ["OUTAGE_ERRORS", "GraceRetry", "Outage"]

log = logging.getLogger("voicedial.state.outage")
T = TypeVar("T")

#: What an unreachable server looks like: refused or dropped connections, timeouts, LOADING
#: while a restarted server replays its AOF (`BusyLoadingError`), no primary known to the
#: sentinels (`MasterNotFoundError`), and a former primary demoted by a failover (READONLY).
OUTAGE_ERRORS: tuple[type[RedisError], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
)
_BACKOFF_FIRST_S = 0.05
_BACKOFF_CAP_S = 1.0
_REVIVE_EVERY_S = 2.0


class Outage:
    """The state of this process's connection to Redis: up, or down since when.

    `revive` is called (at most every two seconds) while Redis is down: for the embedded server
    it restarts the server this process's home owns (its AOF brings every write back)."""

    def __init__(
        self,
        grace_s: float,
        *,
        revive: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grace_s = grace_s
        self._revive = revive
        self._clock = clock
        self._armed = False
        self.down_since: float | None = None
        self._revived_at = float("-inf")
        self._reviving: asyncio.Lock | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Outage:
        # redis-py deep-copies a connection's Retry for every connection; the outage they
        # report to must stay one object.
        return self

    def arm(self) -> None:
        """Start riding out outages (before the first answer, a failure is just an error)."""
        self._armed = True

    @property
    def expired(self) -> bool:
        """Down for longer than the grace (or not yet armed): fail at once."""
        if not self._armed:
            return True
        return self.down_since is not None and self._clock() - self.down_since > self.grace_s

    def failed(self, error: Exception) -> None:
        """A command or connection failed as an outage does."""
        if self.down_since is None:
            self.down_since = self._clock()
            if self._armed:
                log.warning("Redis unreachable (%s): pausing up to %.0f s", error, self.grace_s)

    def recovered(self) -> None:
        """A command succeeded."""
        if self.down_since is not None:
            log.warning("Redis reachable again after %.1f s", self._clock() - self.down_since)
            self.down_since = None

    def give_up(self, error: Exception) -> RedisUnavailable:
        """The error to raise once the grace has passed (before the first answer: at once)."""
        if not self._armed:
            return RedisUnavailable(f"cannot reach Redis: {error}")
        return RedisOutage(
            f"Redis unreachable for more than {self.grace_s:.0f} s (--redis-grace): {error}"
        )

    async def pause(self, failures: int) -> None:
        """Wait before the next try: jittered, doubling, capped at a second; revive the
        embedded server when it is the one that is gone."""
        await self._maybe_revive()
        step = min(_BACKOFF_CAP_S, _BACKOFF_FIRST_S * 2 ** min(failures - 1, 10))
        await asyncio.sleep(step * random.uniform(0.5, 1.0))

    async def _maybe_revive(self) -> None:
        if self._revive is None or self._clock() - self._revived_at < _REVIVE_EVERY_S:
            return
        if self._reviving is None:
            self._reviving = asyncio.Lock()
        if self._reviving.locked():
            return
        async with self._reviving:
            self._revived_at = self._clock()
            try:
                await self._revive()
            except Exception as exc:  # a failed restart is one more failed try, not a crash
                log.warning("could not restart the embedded Redis: %s", exc)


class GraceRetry(Retry):
    """redis-py's retry hook, retrying an outage until its grace has passed."""

    def __init__(self, outage: Outage) -> None:
        super().__init__(NoBackoff(), retries=-1, supported_errors=OUTAGE_ERRORS)
        self.outage = outage

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """`do()`, again after each outage error (`fail` cleans up after each) while the
        outage lasts less than the grace; then `RedisOutage`."""
        failures = 0
        while True:
            try:
                result = await do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                await (fail(error, failures) if with_failure_count else fail(error))
                self.outage.failed(error)
                if self.outage.expired:
                    raise self.outage.give_up(error) from error
                await self.outage.pause(failures)
            else:
                self.outage.recovered()
                return result
