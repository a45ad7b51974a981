"""Run voicedial's benchmarks: `python benchmarks/run.py [NAME ...]` (P1 ... P10, or none: all).

Prints a table (figure, baseline, ratio, target, pass/fail) and writes the results as JSON to
`benchmarks/results/` (gitignored). Inputs are generated at run time; load goes to loopback.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    callbacks,
    campaigns,
    cluster,
    p1_import,
    p6_memory,
    p9_redis,
    p10_cpu,
)
from benchmarks.common import Result  # noqa: E402

BENCHMARKS: dict[str, Callable[[], list[Result]]] = {
    "P1": p1_import.run,
    "P2": lambda: (
        campaigns.run_pacing()
        + campaigns.run_pacing_workers()
        + campaigns.run_pacing_workers(cps=200, workers=4, calls=2000, busy=True)
    ),
    "P3": campaigns.run_dispatch,
    "P4": callbacks.run_callbacks,
    "P5": campaigns.run_end_to_end,
    "P6": p6_memory.run,
    "P7": callbacks.run_turns,
    "P8": cluster.run_cluster,
    "P9": p9_redis.run,
    "P10": p10_cpu.run,
}


def table(results: list[Result]) -> str:
    """The results as a fixed-width text table."""
    lines = [
        f"{'id':<4} {'what':<58} {'figure':>14} {'baseline':>12} {'ratio':>8}  "
        f"{'target':<44} result"
    ]
    for r in results:
        base = "" if r.baseline is None else f"{r.baseline:g}"
        ratio = "" if r.ratio is None else f"{r.ratio:g}"
        lines.append(
            f"{r.id:<4} {r.what[:58]:<58} {f'{r.figure:g} {r.unit}':>14} {base:>12} "
            f"{ratio:>8}  {r.target[:44]:<44} {'PASS' if r.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def _run_one(name: str) -> list[Result]:
    from voicedial.process import tune_gc

    tune_gc()  # the benchmark's process runs voicedial code as the CLI runs it
    return BENCHMARKS[name]()


def _isolated(name: str) -> list[Result]:
    """Run one benchmark in a fresh interpreter: what one leaves behind (P1's million-row
    heap, which every later garbage collection walks) must not slow the next down."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_run_one, name).result()


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default); exit 1 if any failed or crashed."""
    names = [n.upper() for n in argv] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    results: list[Result] = []
    errors: dict[str, str] = {}
    for name in names:
        started = time.perf_counter()
        try:
            results.extend(_isolated(name))
        except Exception as exc:  # a broken benchmark is reported, the others still run
            errors[name] = "".join(traceback.format_exception_only(exc)).strip()
            traceback.print_exc()
        print(f"{name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(table(results))
    for name, error in errors.items():
        print(f"{name} ERROR: {error}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = out / f"results-{stamp}.json"
    path.write_text(
        json.dumps(
            {"results": [r.as_dict() for r in results], "errors": errors}, indent=2, default=str
        )
    )
    print(f"JSON: {path}")
    return 0 if results and all(r.passed for r in results) and not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
