"""The KEDA + HPA baseline follows Kubernetes' default rules, or the scaling comparison is meaningless."""

from __future__ import annotations

from bench.hpa import HpaConfig, KedaHpa


def test_scale_up_is_capped_at_four_pods_from_one_replica() -> None:
    hpa = KedaHpa()
    assert hpa.sync(0, metric=1000, current=1) == 5


def test_scale_up_doubles_when_100_percent_allows_more_than_four_pods() -> None:
    hpa = KedaHpa()
    assert hpa.sync(0, metric=1000, current=8) == 16


def test_scale_up_cap_counts_what_was_added_during_the_last_period() -> None:
    hpa = KedaHpa()
    assert hpa.sync(0, metric=1000, current=1) == 5
    assert hpa.sync(10, metric=1000, current=5) == 5  # still within the 15 s period: 1 + 4
    assert hpa.sync(15, metric=1000, current=5) == 10  # a new period: max(5 + 4, 2 x 5)


def test_scale_up_never_exceeds_max_replicas() -> None:
    hpa = KedaHpa(HpaConfig(max_replicas=12))
    assert hpa.sync(0, metric=1000, current=10) == 12


def test_scale_down_waits_for_the_stabilization_window() -> None:
    hpa = KedaHpa()
    assert hpa.sync(0, metric=100, current=10) == 10
    for now in range(15, 300, 15):
        assert hpa.sync(now, metric=0, current=10) == 10, now
    assert hpa.sync(300, metric=0, current=10) == 1  # the recommendation of t=0 left the window


def test_scale_down_goes_to_the_highest_recommendation_in_the_window() -> None:
    hpa = KedaHpa()
    hpa.sync(0, metric=200, current=20)
    hpa.sync(100, metric=60, current=20)
    assert hpa.sync(300, metric=0, current=20) == 6


def test_tolerance_keeps_the_current_count() -> None:
    assert KedaHpa().sync(0, metric=105, current=10) == 10
    assert KedaHpa().sync(0, metric=120, current=10) == 12


def test_metric_is_only_refreshed_every_polling_interval() -> None:
    hpa = KedaHpa()
    assert hpa.tick(0, llen=0, current=1) == 1
    assert hpa.tick(15, llen=500, current=1) == 1  # the HPA syncs, but on KEDA's reading from t=0
    assert hpa.tick(30, llen=500, current=1) == 5


def test_hpa_acts_only_every_sync_period() -> None:
    hpa = KedaHpa(HpaConfig(polling_interval=1))
    assert hpa.tick(0, llen=0, current=1) == 1
    assert hpa.tick(5, llen=500, current=1) == 1
    assert hpa.tick(15, llen=500, current=1) == 5
