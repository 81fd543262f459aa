"""Kubernetes-convention conditions: transition times move only when the status flips."""

from __future__ import annotations

import pytest
from reviewpolicy import status


def test_transition_time_kept_while_status_is_unchanged() -> None:
    first = status.merge_conditions([], [status.condition("Ready", True, "Reconciled", "ok")], now="T1")
    second = status.merge_conditions(
        first, [status.condition("Ready", True, "Reconciled", "still")], now="T2"
    )
    third = status.merge_conditions(
        second, [status.condition("Ready", False, "NotReconciled", "x")], now="T3"
    )
    assert first[0]["lastTransitionTime"] == "T1"
    assert second[0]["lastTransitionTime"] == "T1" and second[0]["message"] == "still"
    assert third[0] == {
        "type": "Ready", "status": "False", "reason": "NotReconciled", "message": "x",
        "lastTransitionTime": "T3",
    }  # fmt: skip


def test_conditions_are_ordered_and_untouched_types_kept() -> None:
    merged = status.merge_conditions(
        [status.condition("RateLimitsApplied", True, "Applied") | {"lastTransitionTime": "T0"}],
        [
            status.condition("ScalingActive", True, "BacklogRead"),
            status.condition("Ready", True, "Reconciled"),
        ],
        now="T1",
    )
    assert [c["type"] for c in merged] == ["Ready", "ScalingActive", "RateLimitsApplied"]
    assert merged[2]["lastTransitionTime"] == "T0"


def test_ready_summarises_the_failing_conditions() -> None:
    conds = [
        status.condition("ScalingActive", False, "BacklogUnavailable", "Redis down"),
        status.condition("RateLimitsApplied", True, "Applied"),
        status.condition("ReplayInProgress", True, "JobRunning"),
    ]
    ready = status.ready_condition(conds, generation=3)
    assert ready["status"] == "False" and "ScalingActive: Redis down" in ready["message"]
    assert ready["observedGeneration"] == 3
    assert status.ready_condition(conds[1:])["status"] == "True"  # a running replay is not "not ready"


def test_reasons_must_be_camel_case() -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        status.condition("Ready", True, "not ok")


def test_rfc3339_is_utc_with_z() -> None:
    assert status.rfc3339().endswith("Z") and "T" in status.rfc3339()
