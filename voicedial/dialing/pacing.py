"""Calls-per-second pacing shared by every worker on one Twilio account (GCRA in Lua)."""

from __future__ import annotations

import asyncio

from voicedial.state.pace import PaceBucket

__all__ = ["Pacer"]

# How far ahead one reservation may reach: a tenth of a second of calls per round trip.
HORIZON_S = 0.1


class Pacer:
    """Hands out the account's call slots.

    The bucket lives in Redis and runs on the Redis server's clock, so workers on several
    machines share it exactly; burst 1 (the default) means no two slots closer than 1/cps.
    """

    def __init__(self, bucket: PaceBucket, *, cps: float, burst: int = 1) -> None:
        if cps <= 0:
            raise ValueError("cps must be positive")
        self._bucket = bucket
        self._interval_us = max(1, round(1_000_000 / cps))
        self._burst = max(1, burst)

    @property
    def interval_s(self) -> float:
        """Seconds between two slots."""
        return self._interval_us / 1e6

    async def reserve(self, wanted: int) -> tuple[list[float], float]:
        """Take up to `wanted` slots opening within the next tenth of a second.

        Returns (deadlines, wait): the event-loop time at which each taken slot opens, and,
        when none could be taken, seconds until asking again is worthwhile.
        """
        loop = asyncio.get_running_loop()
        first_us, granted = await self._bucket.take(
            interval_us=self._interval_us,
            burst=self._burst,
            wanted=max(1, wanted),
            horizon_us=round(HORIZON_S * 1e6),
        )
        now = loop.time()
        first = first_us / 1e6
        step = self._interval_us / 1e6
        deadlines = [now + max(0.0, first + k * step) for k in range(granted)]
        return deadlines, (max(0.0, first - HORIZON_S) if not granted else 0.0)

    async def try_acquire(self) -> float:
        """Take a slot if one is free now (returns 0.0), else seconds until one may be."""
        first_us, granted = await self._bucket.take(
            interval_us=self._interval_us, burst=self._burst, wanted=1, horizon_us=0
        )
        return 0.0 if granted else first_us / 1e6
