"""The scaling simulation's cluster model and its use of the operator's decision function."""

from __future__ import annotations

import math

from bench import scaling


def test_llen_hides_in_flight_and_prefetched_messages() -> None:
    seen: list[tuple[int, int]] = []

    def record(_now: float, backlog: int, llen: int, current: int) -> int:
        seen.append((backlog, llen))
        return current

    scaling.simulate(record, [20, 0])
    # One ready pod: 4 in flight and 8 prefetched are invisible to LLEN, not to the honest backlog.
    assert seen[0] == (20, 20 - scaling.THREADS - scaling.PREFETCH)


def test_new_pods_work_only_after_startup() -> None:
    trace = [100] + [0] * (scaling.STARTUP_SECONDS + 5)
    timeline = scaling.simulate(lambda _n, _b, _l, current: 3 if current < 3 else current, trace)
    assert timeline.replicas[0] == 3
    drained_per_second = [timeline.backlog[t - 1] - timeline.backlog[t] for t in range(1, len(trace))]
    assert drained_per_second[0] == scaling.PER_REPLICA_RATE  # only the first pod is ready
    assert drained_per_second[-1] == 3 * scaling.PER_REPLICA_RATE


def test_reviewops_decides_on_its_first_poll_after_the_burst() -> None:
    trace = scaling.arrivals()
    timeline = scaling.simulate(scaling.reviewops_autoscaler(), trace)
    start = scaling.BURSTS[0]
    stats = scaling.burst_stats(timeline, start, scaling.BURSTS[1])
    assert stats.to_decision < scaling.POLL_SECONDS
    assert stats.peak == min(scaling.MAX_REPLICAS, math.ceil(scaling.BURST_SIZE / scaling.TARGET))
    assert not math.isnan(stats.to_drain)


def test_rows_compare_both_autoscalers_on_every_burst() -> None:
    rows = scaling.run(None)  # type: ignore[arg-type]
    assert len(rows) == 2 * (3 * len(scaling.BURSTS) + 1) + 1
    assert sum(r.metric.startswith("vs tuned KEDA: ") for r in rows) == 3 * len(scaling.BURSTS) + 1
    assert all(r.baseline is not None for r in rows)
    assert all(isinstance(r.passed, bool) for r in rows if r.target)


def test_tuned_keda_polls_every_10_s_on_the_honest_backlog_plus_held_work() -> None:
    seen: list[int] = []
    hpa_scale = scaling.keda_tuned_autoscaler(held=7)
    # The first call reads the metric (backlog + held) and syncs: ceil(27 / 10) = 3 replicas.
    assert hpa_scale(0.0, 20, 0, 1) == 3
    seen.append(hpa_scale(5.0, 500, 0, 3))  # within the 10 s polling interval and the 15 s sync: held
    assert seen == [3]


def test_held_reviews_cost_the_operator_nothing_and_keda_twenty_workers() -> None:
    trace = [0] * 200
    ours = scaling.simulate(scaling.reviewops_autoscaler(), trace)
    keda = scaling.simulate(scaling.keda_tuned_autoscaler(scaling.HELD), trace)
    assert max(ours.replicas) == scaling.MIN_REPLICAS
    assert max(keda.replicas) == scaling.MAX_REPLICAS
