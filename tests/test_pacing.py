"""Pace slots are times on the Redis server's clock, placed on each process's own clock."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from voicedial.dialing.pacing import Pacer, ServerClock
from voicedial.state.pace import PaceBucket


def test_the_fastest_round_trip_sets_the_offset() -> None:
    clock = ServerClock()
    clock.observe(sent=10.0, received=10.004, server_s=1000.001)  # rtt 4 ms
    assert abs(clock.to_loop(1000.001) - 10.002) < 1e-9
    clock.observe(sent=11.0, received=11.050, server_s=1001.001)  # a slow reply: ignored
    assert abs(clock.to_loop(1000.001) - 10.002) < 1e-9
    clock.observe(sent=12.0, received=12.002, server_s=1002.0015)  # faster: taken
    assert abs(clock.to_loop(1002.0015) - 12.001) < 1e-9


def test_an_old_estimate_gives_way_to_a_slower_fresh_one() -> None:
    clock = ServerClock()
    clock.observe(sent=0.0, received=0.001, server_s=500.0)
    clock.observe(sent=30.0, received=30.010, server_s=600.0)  # 30 s later, rtt 10 ms
    assert abs(clock.to_loop(600.0) - 30.005) < 1e-9


class _SlowReply(PaceBucket):
    """The bucket as a process sees it whose loop picks a reply up late (a busy machine)."""

    delay = 0.0

    async def take(
        self, *, interval_us: int, burst: int, wanted: int, horizon_us: int
    ) -> tuple[int, int, int]:
        got = await super().take(
            interval_us=interval_us, burst=burst, wanted=wanted, horizon_us=horizon_us
        )
        await asyncio.sleep(self.delay)
        return got


async def test_a_late_reply_does_not_push_its_slots_into_the_next_reservation(
    redis_url: str,
) -> None:
    client = aioredis.from_url(redis_url)
    slow = _SlowReply(client, account_sid="ACpace")
    pacer_a = Pacer(slow, cps=100)
    pacer_b = Pacer(PaceBucket(client, account_sid="ACpace"), cps=100)
    # Each process learns the server's clock from a quick round trip first.
    for pacer in (pacer_a, pacer_b):
        await pacer.reserve(1)
    await asyncio.sleep(0.05)
    slow.delay = 0.03  # then A's next reply is picked up 30 ms late...
    a, _ = await pacer_a.reserve(5)
    b, _ = await pacer_b.reserve(5)  # ...and B's slots follow A's on the server's clock
    await client.aclose()
    assert len(a) == len(b) == 5
    assert min(b) - max(a) > 0.008  # one interval (10 ms), less the clock estimate's error
