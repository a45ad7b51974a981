"""P10: CPU per completed interview call in the process that dials and serves its callbacks.

One `campaign run` in this process (as P5), every contact a cooperative person who completes
the interview; the emulator (Twilio's side) in a child process counts the webhook requests the
calls made. The figure is this process's CPU over the run, per completed call.

The baseline is what the same number of requests costs a bare Starlette form endpoint on the
same uvicorn setup (P4's), measured in its own child process: its CPU per request (read from
the process itself before and after a closed-loop run) times the requests one call made.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from benchmarks.callbacks import _status_requests, bare_app
from benchmarks.campaigns import campaign, numbers
from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.load import child_server, closed_loop

__all__ = ["run"]


async def _cpu_of(port: int) -> float:
    async with httpx.AsyncClient() as http:
        return float((await http.get(f"http://127.0.0.1:{port}/_cpu")).text)


async def _bare_cpu_per_request(count: int) -> float:
    with child_server(bare_app) as port:
        pairs = [(f"c{i}", f"CA{i:032x}") for i in range(count // 3)]
        warm = _status_requests(port, "p10", pairs[:300], signed=False)
        await closed_loop("127.0.0.1", port, warm, connections=32)
        requests = _status_requests(port, "p10", pairs, signed=False)
        before = await _cpu_of(port)
        await closed_loop("127.0.0.1", port, requests, connections=32)
        return (await _cpu_of(port) - before) / len(requests)


def run(count: int = 3000, cps: float = 100) -> list[Result]:
    people = numbers(count)
    with scratch("p10") as home, fresh_redis(home / "redis") as url:
        started = time.process_time()
        created, wall, states = asyncio.run(
            campaign(
                home, url, people, cps=cps, speed=100, answer="cooperative", max_concurrent=300
            )
        )
        cpu = time.process_time() - started
    completed = states.get("completed", 0)
    per_call = cpu / max(1, completed)
    requests_per_call = created.requests / max(1, len(created.to))
    bare = asyncio.run(_bare_cpu_per_request(9000))
    baseline = bare * requests_per_call
    return [
        Result(
            id="P10",
            what=f"CPU per completed interview call, dialling and serving ({completed:,} calls)",
            figure=round(per_call * 1000, 2),
            unit="ms",
            baseline=round(baseline * 1000, 2),
            baseline_what="bare Starlette CPU per request x requests per call",
            ratio=round(per_call / baseline, 2) if baseline else None,
            target="<= 3 ms",
            passed=per_call <= 0.003 and completed == count,
            details={
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                "requests_per_call": round(requests_per_call, 2),
                "bare_cpu_us_per_request": round(bare * 1e6, 1),
                "states": states,
            },
        )
    ]
