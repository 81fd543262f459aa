"""The scaling decision: a pure function from (spec, current replicas, backlog, time, state) to a decision.

Like the HPA, but on the honest backlog: up at once (optionally capped by `scaleUpStep`), down only when
every recommendation during the stabilization window was lower, and then to the highest of them. The
state that makes the window survive an operator restart is a few numbers kept in the policy's status.

What KEDA users expect is here too: an activation threshold (with minReplicas 0, a backlog at or below
`activationBacklog` keeps or takes the workers to zero), rate policies per direction (at most
max(pods, percent of the replicas at the period's start) added or removed per period, the HPA's
`behavior` with selectPolicy Max), and a fallback (after `failureThreshold` polls in a row without a
backlog, go to `fallback.replicas`; without a fallback the count is held, never zeroed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

TOLERANCE = 0.10

Direction = Literal["up", "down", "none"]


@dataclass(frozen=True)
class RatePolicy:
    """At most max(pods, ceil(percent % of the replicas at the period's start)) changed per period."""

    pods: int = 0
    percent: int = 0
    period_seconds: float = 60

    @classmethod
    def from_spec(cls, raw: dict[str, Any] | None) -> RatePolicy | None:
        if not raw or not (raw.get("pods") or raw.get("percent")):
            return None
        return cls(int(raw.get("pods", 0)), int(raw.get("percent", 0)), float(raw.get("periodSeconds", 60)))

    def allowance(self, base: int) -> int:
        return max(1, self.pods, math.ceil(base * self.percent / 100))


@dataclass(frozen=True)
class ScalingSpec:
    min_replicas: int = 1
    max_replicas: int = 20
    target_backlog_per_replica: int = 10
    scale_up_step: int = 0  # 0: no cap
    stabilization_seconds: float = 120
    tolerance: float = TOLERANCE
    activation_backlog: int = 0
    scale_up: RatePolicy | None = None
    scale_down: RatePolicy | None = None
    fallback_replicas: int | None = None
    fallback_failure_threshold: int = 3

    def __post_init__(self) -> None:
        if self.min_replicas < 0 or self.max_replicas < 1 or self.max_replicas < self.min_replicas:
            raise ValueError(
                f"need 0 <= minReplicas <= maxReplicas and maxReplicas >= 1, "
                f"got {self.min_replicas}..{self.max_replicas}"
            )
        if self.target_backlog_per_replica < 1:
            raise ValueError("targetBacklogPerReplica must be >= 1")
        if self.activation_backlog < 0:
            raise ValueError("activationBacklog must be >= 0")
        if self.fallback_failure_threshold < 1:
            raise ValueError("fallback.failureThreshold must be >= 1")

    @classmethod
    def from_workers(cls, workers: dict[str, Any]) -> ScalingSpec:
        """Build from the CRD's `spec.workers` (camelCase; defaults as in the CRD)."""
        fallback = workers.get("fallback") or {}
        return cls(
            min_replicas=int(workers.get("minReplicas", 1)),
            max_replicas=int(workers.get("maxReplicas", 20)),
            target_backlog_per_replica=int(workers.get("targetBacklogPerReplica", 10)),
            scale_up_step=int(workers.get("scaleUpStep", 0)),
            stabilization_seconds=float(workers.get("scaleDownStabilizationSeconds", 120)),
            activation_backlog=int(workers.get("activationBacklog", 0)),
            scale_up=RatePolicy.from_spec(workers.get("scaleUp")),
            scale_down=RatePolicy.from_spec(workers.get("scaleDown")),
            fallback_replicas=None if fallback.get("replicas") is None else int(fallback["replicas"]),
            fallback_failure_threshold=int(fallback.get("failureThreshold", 3)),
        )

    def clamp(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True)
class ScalingState:
    """A pending scale-down (since when every recommendation was lower, and the highest of them), the
    current rate-policy periods (start, replicas at the start) and the failed polls in a row."""

    downscale_since: float | None = None
    downscale_to: int | None = None
    up_since: float | None = None
    up_base: int | None = None
    down_since: float | None = None
    down_base: int | None = None
    failures: int = 0

    def to_status(self) -> dict[str, Any]:
        return {
            "downscaleSince": self.downscale_since, "downscaleTo": self.downscale_to,
            "upPeriodStart": self.up_since, "upPeriodBase": self.up_base,
            "downPeriodStart": self.down_since, "downPeriodBase": self.down_base,
            "failedPolls": self.failures,
        }  # fmt: skip

    @classmethod
    def from_status(cls, raw: dict[str, Any] | None) -> ScalingState:
        raw = raw or {}

        def num(key: str, kind: type) -> Any:
            value = raw.get(key)
            return None if value is None else kind(value)

        since, to = num("downscaleSince", float), num("downscaleTo", int)
        if since is None or to is None:
            since = to = None
        return cls(
            since, to, num("upPeriodStart", float), num("upPeriodBase", int), num("downPeriodStart", float),
            num("downPeriodBase", int), int(raw.get("failedPolls") or 0),
        )  # fmt: skip

    def without_downscale(self) -> ScalingState:
        return replace(self, downscale_since=None, downscale_to=None)


@dataclass(frozen=True)
class Decision:
    desired: int
    recommendation: int | None
    direction: Direction
    reason: str
    state: ScalingState = field(default_factory=ScalingState)
    error: bool = False
    fallback: bool = False


def recommend(spec: ScalingSpec, current: int, backlog: int) -> int:
    """Replicas the backlog asks for, clamped, with the tolerance band around the current count."""
    if backlog < 0:
        raise ValueError("backlog cannot be negative")
    if spec.min_replicas == 0 and backlog <= spec.activation_backlog:
        return 0  # not active (KEDA's activation): to zero, through the stabilization window
    raw = math.ceil(backlog / spec.target_backlog_per_replica)
    if current > 0 and backlog > 0:
        ratio = backlog / (current * spec.target_backlog_per_replica)
        if abs(ratio - 1.0) <= spec.tolerance:
            raw = current
    return spec.clamp(raw)


def decide(
    spec: ScalingSpec, current: int, backlog: int | None, now: float, state: ScalingState | None = None
) -> Decision:
    """One poll's decision. `backlog=None` means Redis could not be read: hold (within bounds), never zero,
    unless a fallback is configured and this is the `failureThreshold`-th failed poll in a row."""
    state = state or ScalingState()
    if backlog is None:
        failures = state.failures + 1
        failed = replace(state.without_downscale(), failures=failures)
        if spec.fallback_replicas is not None and failures >= spec.fallback_failure_threshold:
            target = spec.clamp(spec.fallback_replicas)
            return Decision(
                target, None, _direction(current, target),
                f"backlog unknown (Redis unreachable) for {failures} polls: fallback to {target} replicas",
                failed, error=True, fallback=True,
            )  # fmt: skip
        held = spec.clamp(current)
        return Decision(
            desired=held,
            recommendation=None,
            direction=_direction(current, held),
            reason=f"backlog unknown (Redis unreachable): holding {held} replicas",
            state=failed,
            error=True,
        )
    state = replace(state, failures=0)
    rec = recommend(spec, current, backlog)
    numbers = f"backlog {backlog}, target {spec.target_backlog_per_replica}/replica"
    if rec > current:
        desired = rec if spec.scale_up_step <= 0 else min(rec, current + spec.scale_up_step)
        desired, state = _limit_up(spec, current, desired, now, state.without_downscale())
        return Decision(desired, rec, "up", f"{numbers}: {current} -> {desired} (recommended {rec})", state)
    if rec == current:
        return Decision(current, rec, "none", f"{numbers}: {current} replicas fit", state.without_downscale())
    # rec < current: only after the window, and then to the highest recommendation seen during it.
    if state.downscale_since is None or state.downscale_to is None:
        pending = replace(state, downscale_since=now, downscale_to=rec)
    else:
        pending = replace(state, downscale_to=max(state.downscale_to, rec))
    assert pending.downscale_since is not None and pending.downscale_to is not None
    waited = now - pending.downscale_since
    if waited >= spec.stabilization_seconds:
        desired = min(pending.downscale_to, current)
        desired, after = _limit_down(spec, current, desired, now, pending.without_downscale())
        if desired > pending.downscale_to:  # the rate policy held some back: keep the window open
            after = replace(after, downscale_since=pending.downscale_since, downscale_to=pending.downscale_to)
        return Decision(
            desired,
            rec,
            _direction(current, desired),
            f"{numbers}: {current} -> {desired} after {waited:.0f}s below (stabilization "
            f"{spec.stabilization_seconds:.0f}s)",
            after,
        )
    held = spec.clamp(current)
    return Decision(
        held,
        rec,
        _direction(current, held),
        f"{numbers}: recommended {rec}, holding {held} for stabilization "
        f"({waited:.0f}/{spec.stabilization_seconds:.0f}s)",
        pending,
    )


def _limit_up(
    spec: ScalingSpec, current: int, desired: int, now: float, state: ScalingState
) -> tuple[int, ScalingState]:
    policy = spec.scale_up
    if policy is None:
        return desired, state
    if state.up_since is None or state.up_base is None or now - state.up_since >= policy.period_seconds:
        state = replace(state, up_since=now, up_base=current)
    assert state.up_base is not None
    return min(desired, max(current, state.up_base + policy.allowance(state.up_base))), state


def _limit_down(
    spec: ScalingSpec, current: int, desired: int, now: float, state: ScalingState
) -> tuple[int, ScalingState]:
    policy = spec.scale_down
    if policy is None:
        return desired, state
    if state.down_since is None or state.down_base is None or now - state.down_since >= policy.period_seconds:
        state = replace(state, down_since=now, down_base=current)
    assert state.down_base is not None
    return max(desired, min(current, state.down_base - policy.allowance(state.down_base))), state


def _direction(current: int, desired: int) -> Direction:
    if desired > current:
        return "up"
    if desired < current:
        return "down"
    return "none"
