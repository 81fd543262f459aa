"""Kubernetes-style status conditions: type, status, reason, message, lastTransitionTime.

`lastTransitionTime` changes only when `status` flips, so `kubectl wait --for=condition=Ready` and alerting
on "condition false for N minutes" behave as users expect.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

READY = "Ready"
SCALING_ACTIVE = "ScalingActive"
RATE_LIMITS_APPLIED = "RateLimitsApplied"
REPLAY_IN_PROGRESS = "ReplayInProgress"
# True after a pass that found the cluster or Redis out of line with the spec and repaired it (the message
# says what); False ("InSync") from the next poll that found nothing. Absent until the first repair.
DRIFT_REPAIRED = "DriftRepaired"
CONDITION_TYPES = (READY, SCALING_ACTIVE, RATE_LIMITS_APPLIED, REPLAY_IN_PROGRESS, DRIFT_REPAIRED)

ConditionStatus = Literal["True", "False", "Unknown"]


def rfc3339(moment: datetime.datetime | None = None) -> str:
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: str,
    status: ConditionStatus | bool,
    reason: str,
    message: str = "",
    *,
    generation: int | None = None,
) -> dict[str, Any]:
    """A condition without its transition time (set by `merge_conditions`)."""
    if isinstance(status, bool):
        status = "True" if status else "False"
    if not reason or not reason[0].isupper() or not reason.isalnum():
        raise ValueError(f"condition reason must be CamelCase, got {reason!r}")
    cond: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message}
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def merge_conditions(
    existing: list[dict[str, Any]] | None, updates: list[dict[str, Any]], now: str | None = None
) -> list[dict[str, Any]]:
    """Apply `updates` over `existing` by type; keep lastTransitionTime unless the status changed."""
    now = now or rfc3339()
    by_type = {c["type"]: dict(c) for c in existing or [] if isinstance(c, dict) and "type" in c}
    for update in updates:
        old = by_type.get(update["type"])
        new = dict(update)
        if old is not None and old.get("status") == new["status"] and old.get("lastTransitionTime"):
            new["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            new["lastTransitionTime"] = now
        by_type[update["type"]] = new
    ordered = [by_type.pop(t) for t in CONDITION_TYPES if t in by_type]
    return ordered + [by_type[t] for t in sorted(by_type)]


def find(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    for cond in conditions or []:
        if cond.get("type") == type_:
            return cond
    return None


def ready_condition(conditions: list[dict[str, Any]], generation: int | None = None) -> dict[str, Any]:
    """Ready summarises the others: scaling works and the limits of this generation are in Redis."""
    problems = [
        f"{c['type']}: {c.get('message') or c.get('reason')}"
        for c in conditions
        if c.get("type") in (SCALING_ACTIVE, RATE_LIMITS_APPLIED)
        and c.get("status") != "True"
        and c.get("reason") != "Paused"  # a pause is the user's decision, not a fault
    ]
    if problems:
        return condition(READY, False, "NotReconciled", "; ".join(problems), generation=generation)
    return condition(READY, True, "Reconciled", "scaling and policy are in force", generation=generation)
