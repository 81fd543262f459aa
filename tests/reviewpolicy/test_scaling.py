"""The pure scaling decision over sequences of backlog samples, and its invariants (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewpolicy.scaling import Decision, RatePolicy, ScalingSpec, ScalingState, decide, recommend

SPEC = ScalingSpec(
    min_replicas=1, max_replicas=10, target_backlog_per_replica=10, scale_up_step=0, stabilization_seconds=60
)


def run(spec: ScalingSpec, current: int, samples: list[int | None], poll: float = 10) -> list[Decision]:
    """Feed backlog samples every `poll` seconds, applying each decision as the next current count."""
    state, decisions = ScalingState(), []
    for i, backlog in enumerate(samples):
        decision = decide(spec, current, backlog, now=1000 + i * poll, state=state)
        decisions.append(decision)
        current, state = decision.desired, decision.state
    return decisions


def test_burst_scales_up_in_one_step() -> None:
    [d] = run(SPEC, 1, [75])
    assert (d.desired, d.direction) == (8, "up") and "backlog 75" in d.reason


def test_scale_up_is_capped_by_the_step_and_by_max() -> None:
    capped = ScalingSpec(1, 10, 10, scale_up_step=2, stabilization_seconds=60)
    assert [d.desired for d in run(capped, 1, [500, 500, 500, 500, 500, 500])] == [3, 5, 7, 9, 10, 10]


def test_tolerance_band_keeps_the_count() -> None:
    assert recommend(SPEC, 5, 54) == 5  # 8 % over target: inside the band
    assert recommend(SPEC, 5, 46) == 5
    assert recommend(SPEC, 5, 56) == 6  # 12 % over: outside
    assert recommend(SPEC, 5, 44) == 5  # ceil(4.4) = 5 anyway


def test_scale_down_waits_for_the_window_then_takes_the_highest_recommendation() -> None:
    decisions = run(SPEC, 8, [80, 20, 30, 10, 20, 20, 20, 20, 20])
    desired = [d.desired for d in decisions]
    # Lower from t=10; the window (60 s) has passed at t=70: down to the highest seen (3). Going on to 2
    # is another scale-down, so it waits for a window of its own.
    assert desired == [8, 8, 8, 8, 8, 8, 8, 3, 3]
    assert decisions[8].state.downscale_to == 2
    assert decisions[3].state.downscale_to == 3 and decisions[7].direction == "down"


def test_flapping_never_scales_down() -> None:
    decisions = run(SPEC, 8, [80, 10, 80, 10, 80, 10, 80, 10, 80, 10, 80])
    assert {d.desired for d in decisions} == {8}


def test_scale_to_zero_and_back() -> None:
    spec = ScalingSpec(0, 5, 10, 0, stabilization_seconds=20)
    desired = [d.desired for d in run(spec, 1, [0, 0, 0, 0, 1, 0])]
    assert desired == [1, 1, 0, 0, 1, 1]


def test_redis_error_holds_and_sets_the_error_flag() -> None:
    spec = ScalingSpec(0, 5, 10, 0, stabilization_seconds=20)
    decisions = run(spec, 3, [0, None, 0, None, None])
    assert [d.desired for d in decisions] == [3, 3, 3, 3, 3]
    assert [d.error for d in decisions] == [False, True, False, True, True]
    # An error resets the window (unknown is not "low") and counts the failed polls in a row.
    assert decisions[1].state == ScalingState(failures=1)
    assert [d.state.failures for d in decisions] == [0, 1, 0, 1, 2]


def test_fallback_replicas_after_the_failure_threshold_then_back_to_the_backlog() -> None:
    spec = ScalingSpec(1, 10, 10, stabilization_seconds=0, fallback_replicas=6, fallback_failure_threshold=3)
    decisions = run(spec, 2, [None, None, None, None, 15])
    assert [d.desired for d in decisions] == [2, 2, 6, 6, 2]
    assert [d.fallback for d in decisions] == [False, False, True, True, False]
    assert "fallback to 6 replicas" in decisions[2].reason


def test_activation_threshold_keeps_zero_until_the_backlog_exceeds_it() -> None:
    spec = ScalingSpec(0, 10, 10, stabilization_seconds=0, activation_backlog=5)
    assert [d.desired for d in run(spec, 0, [3, 5, 6, 5, 0])] == [0, 0, 1, 0, 0]
    # With minReplicas >= 1 activation has no effect (as in KEDA).
    assert decide(ScalingSpec(1, 10, 10, activation_backlog=50), 1, 30, 0).desired == 3


def test_scale_up_rate_policy_limits_growth_per_period() -> None:
    # At most max(2 pods, 50 %) per 30 s; polls every 10 s on a backlog asking for 10.
    spec = ScalingSpec(1, 10, 10, scale_up=RatePolicy(pods=2, percent=50, period_seconds=30))
    assert [d.desired for d in run(spec, 1, [100] * 8)] == [3, 3, 3, 5, 5, 5, 8, 8]


def test_scale_down_rate_policy_limits_shrinking_per_period() -> None:
    spec = ScalingSpec(
        1, 20, 10, stabilization_seconds=0, scale_down=RatePolicy(pods=1, percent=25, period_seconds=20)
    )
    desired = [d.desired for d in run(spec, 16, [0] * 6)]
    assert desired == [12, 12, 9, 9, 6, 6]  # 16 - 25 %, then 12 - 3, then 9 - ceil(2.25)


def test_rate_policies_survive_a_restart_through_the_status() -> None:
    spec = ScalingSpec(1, 10, 10, scale_up=RatePolicy(pods=2, period_seconds=30))
    first = decide(spec, 1, 100, 1000.0)
    again = decide(spec, first.desired, 100, 1010.0, ScalingState.from_status(first.state.to_status()))
    assert (first.desired, again.desired) == (3, 3)


def test_out_of_bounds_current_is_brought_into_bounds() -> None:
    assert decide(SPEC, 0, 0, 0).desired == 1
    assert decide(SPEC, 15, None, 0).desired == 10


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="minReplicas"):
        ScalingSpec(min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match="targetBacklogPerReplica"):
        ScalingSpec(target_backlog_per_replica=0)


def test_from_workers_reads_camel_case() -> None:
    spec = ScalingSpec.from_workers(
        {"minReplicas": 0, "maxReplicas": 3, "targetBacklogPerReplica": 4, "scaleUpStep": 1,
         "scaleDownStabilizationSeconds": 5}
    )  # fmt: skip
    assert spec == ScalingSpec(0, 3, 4, 1, 5.0)


def test_state_round_trips_through_status() -> None:
    state = ScalingState(12.5, 3)
    assert ScalingState.from_status(state.to_status()) == state
    assert ScalingState.from_status(None) == ScalingState()


specs = st.builds(
    lambda lo, span, target, step, window: ScalingSpec(lo, max(1, lo + span), target, step, window),
    st.integers(0, 10), st.integers(0, 20), st.integers(1, 50), st.integers(0, 5), st.integers(0, 120),
)  # fmt: skip
samples = st.lists(st.one_of(st.none(), st.integers(0, 2000)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(spec=specs, start=st.integers(0, 40), backlog=samples, poll=st.integers(1, 30))
def test_invariants(spec: ScalingSpec, start: int, backlog: list[int | None], poll: int) -> None:
    current, state = spec.clamp(start), ScalingState()
    low_since: float | None = None
    for i, sample in enumerate(backlog):
        now = i * poll
        decision = decide(spec, current, sample, now, state)
        # never outside [min, max]
        assert spec.min_replicas <= decision.desired <= spec.max_replicas
        # never to zero on an error, and never down on an error
        if sample is None:
            assert decision.desired >= current and (current == 0 or decision.desired > 0)
        # never down during the window: every sample since the first lower one must have been lower
        if sample is not None and recommend(spec, current, sample) < current:
            low_since = now if low_since is None else low_since
        else:
            low_since = None
        if decision.desired < current:
            assert low_since is not None and now - low_since >= spec.stabilization_seconds
        # anything waiting means at least one replica
        if sample:
            assert decision.desired >= 1
        current, state = decision.desired, decision.state
