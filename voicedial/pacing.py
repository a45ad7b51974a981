"""Calls-per-second pacing shared by every worker on one Twilio account (GCRA in Lua)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from .keys import pace_key
from .scripts import Scripts

__all__ = ["Pacer"]


class Pacer:
    """Waits for the account's next call slot.

    The bucket lives in Redis and runs on the Redis server's clock, so workers on several
    machines share it exactly; burst 1 (the default) means no two calls closer than 1/cps.
    """

    def __init__(self, redis: Redis, *, account_sid: str, cps: float, burst: int = 1) -> None:
        if cps <= 0:
            raise ValueError("cps must be positive")
        self._script = Scripts(redis).pace
        self._key = pace_key(account_sid)
        self._interval_us = round(1_000_000 / cps)
        self._burst = max(1, burst)

    async def try_acquire(self) -> float:
        """Take a slot if one is free now (returns 0.0), else seconds until the next one."""
        wait_us = int(await self._script(keys=[self._key], args=[self._interval_us, self._burst]))
        return wait_us / 1_000_000

    async def acquire(self) -> None:
        """Wait until a slot is taken."""
        while (wait := await self.try_acquire()) > 0:
            await asyncio.sleep(wait)
