"""Calls-per-second pacing shared by every worker on one Twilio account (GCRA in Lua)."""

from __future__ import annotations

import asyncio

from voicedial.state.pace import PaceBucket

__all__ = ["Pacer"]

# How far ahead one reservation may reach: a tenth of a second of calls per round trip.
HORIZON_S = 0.1
# How long one estimate of the Redis server's clock is trusted before a slower round trip may
# replace it (clocks drift by parts per million; a stepped server clock is caught within this).
_CLOCK_TRUST_S = 10.0


class ServerClock:
    """Maps the Redis server's clock onto this event loop's, from the round trips of the
    reservations themselves (Cristian's algorithm: the server read its clock somewhere within
    the round trip, so the midpoint is wrong by at most half of it; the fastest recent round
    trip gives the best estimate).

    Slots are times on the server's clock. Placing them at "reply received + offset" instead
    would shift each reservation by its own reply delay, and slots of two processes (or two
    reservations) would drift into each other: the bunching the pace exists to prevent.
    """

    def __init__(self) -> None:
        self._offset = 0.0  # server seconds minus loop seconds
        self._rtt = float("inf")
        self._at = float("-inf")

    def observe(self, sent: float, received: float, server_s: float) -> None:
        rtt = received - sent
        if rtt <= self._rtt or received - self._at > _CLOCK_TRUST_S:
            self._offset = server_s - (sent + received) / 2
            self._rtt = rtt
            self._at = received

    def to_loop(self, server_s: float) -> float:
        """The loop time at which the server's clock reads `server_s`."""
        return server_s - self._offset


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
        self._clock = ServerClock()

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
        sent = loop.time()
        first_us, granted, now_us = await self._bucket.take(
            interval_us=self._interval_us,
            burst=self._burst,
            wanted=max(1, wanted),
            horizon_us=round(HORIZON_S * 1e6),
        )
        received = loop.time()
        self._clock.observe(sent, received, now_us / 1e6)
        now = self._clock.to_loop(now_us / 1e6)
        first = first_us / 1e6
        step = self._interval_us / 1e6
        # A slot that opened before its reply could be read is due on receipt: it could not
        # have been used earlier, and counting it late would skip it (at a high pace, or on a
        # busy loop, every slot of every reservation: nothing would be dialled).
        deadlines = [max(received, now + max(0.0, first + k * step)) for k in range(granted)]
        return deadlines, (max(0.0, first - HORIZON_S) if not granted else 0.0)

    async def try_acquire(self) -> float:
        """Take a slot if one is free now (returns 0.0), else seconds until one may be."""
        first_us, granted, _ = await self._bucket.take(
            interval_us=self._interval_us, burst=self._burst, wanted=1, horizon_us=0
        )
        return 0.0 if granted else first_us / 1e6
