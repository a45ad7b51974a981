"""The account's call pace in Redis: a GCRA bucket (`lua/pace.lua`) on the Redis server's
clock, one per Twilio account, shared by every campaign and worker on it."""

from __future__ import annotations

from redis.asyncio import Redis

from voicedial.state.keys import pace_key
from voicedial.state.scripts import Scripts

__all__ = ["PaceBucket"]


class PaceBucket:
    """One Twilio account's pace bucket."""

    def __init__(self, redis: Redis, *, account_sid: str) -> None:
        self._script = Scripts(redis).pace
        self._key = pace_key(account_sid)

    async def take(
        self, *, interval_us: int, burst: int, wanted: int, horizon_us: int
    ) -> tuple[int, int, int]:
        """Take up to `wanted` slots `interval_us` apart that open within `horizon_us` of now.

        Returns (first_us, granted, now_us): when the first taken slot opens, in microseconds
        from the server's `now_us` (negative when already open); or, when none was granted,
        how long until one is."""
        first_us, granted, now_us = await self._script(
            keys=[self._key], args=[interval_us, burst, wanted, horizon_us]
        )
        return int(first_us), int(granted), int(now_us)
