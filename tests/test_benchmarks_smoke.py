"""Tiny versions of the benchmarks, so they cannot rot (the real ones: benchmarks/run.py).

They check that each benchmark runs end to end and measures what it says, not its target:
targets are for the 2-core benchmark run, not for a test machine under load. The exception is
P1's identity with the per-row path, which must hold at any size.
"""

from __future__ import annotations

import pytest

from benchmarks import callbacks, campaigns, cluster, p1_import, p6_memory, p9_redis, p10_cpu
from benchmarks.common import sliding_max
from benchmarks.load import percentile
from benchmarks.run import table


@pytest.mark.timeout(30)
def test_p1_import_small_list_is_identical_to_per_row_path() -> None:
    (result,) = p1_import.run(3_000)
    assert result.details["identical_to_per_row"] is True
    assert result.details["added"] > 2_000
    assert "P1" in table([result])


@pytest.mark.timeout(30)
def test_p2_p3_p5_a_small_campaign_dials_everyone_once() -> None:
    (result,) = campaigns.run_end_to_end(count=30, cps=30)
    assert result.details["lost"] == 0 and result.details["double_dials"] == 0
    assert result.details["states"] == {"no_answer": 30}
    assert result.baseline == 1.0


@pytest.mark.timeout(60)
def test_p8_the_same_campaign_on_a_cluster_and_on_one_server() -> None:
    (result,) = cluster.run_cluster(count=30, cps=30)
    for side in ("cluster", "standalone"):
        run = result.details[side]
        assert run["lost"] == 0 and run["wrong_dials"] == 0, side
        assert run["states"] == {"no_answer": 30}, side
    assert result.baseline and result.baseline > 0.9  # 30 calls at 30/s: about a second


@pytest.mark.timeout(60)
def test_p9_redis_memory_and_commands_per_call_are_measured() -> None:
    memory, used = p9_redis.run(rows=3_000, calls=8)
    assert memory.details["added"] > 2_000
    assert 50 < memory.figure < 5_000  # bytes per contact: a real, plausible figure
    assert used.details["finished"] == 8
    assert used.details["commands"] > used.details["round_trips"] > 8


@pytest.mark.timeout(60)
def test_p10_cpu_per_completed_call_and_its_baseline_are_measured() -> None:
    (result,) = p10_cpu.run(count=12, cps=12)
    assert result.details["states"] == {"completed": 12}
    assert result.details["requests_per_call"] > 5  # voice, turns, status, AMD
    assert result.figure > 0 and result.baseline and result.baseline > 0


@pytest.mark.timeout(30)
def test_p3_one_dialler_places_every_call_once() -> None:
    (result,) = campaigns.run_dispatch(count=40)
    assert result.details["calls"] == 40 and result.details["distinct_numbers"] == 40
    assert result.details["dialler_cpu_us_per_call"] > 0 and result.baseline


@pytest.mark.timeout(40)
def test_p2_workers_share_one_bucket() -> None:
    (result,) = campaigns.run_pacing_workers(cps=20, workers=2, calls=30)
    assert result.details["calls"] == 30
    # Two processes, one bucket: never more than cps + burst in any second (20 + 1).
    assert result.details["max_in_1s_window"] <= 21


@pytest.mark.timeout(30)
def test_p4_signed_callbacks_are_all_accepted() -> None:
    throughput, latency = callbacks.run_callbacks(
        calls=20, connections=4, rate=100, rate_seconds=0.3
    )
    assert throughput.details["non_204"] == 0 and throughput.details["bare_non_204"] == 0
    assert throughput.details["calls_settled"] == throughput.details["calls"]
    assert throughput.figure > 0 and throughput.baseline and latency.figure > 0


@pytest.mark.timeout(30)
def test_p7_interviews_run_turn_by_turn_and_the_server_histogram_counts_them() -> None:
    median, _ = callbacks.run_turns(calls=2, concurrent=2, max_turns=4)
    turns = median.details["turns"]
    assert turns >= 4
    assert median.details["server_histogram"]["count"] == turns


@pytest.mark.timeout(30)
def test_p6_peak_rss_of_a_dry_run_is_measured() -> None:
    (result,) = p6_memory.run(2_000)
    assert result.details["exit_code"] == 0
    assert 50 < result.figure < 1_000


def test_sliding_window_and_percentiles() -> None:
    assert sliding_max([0.0, 0.1, 0.5, 1.0, 1.05]) == 4
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
