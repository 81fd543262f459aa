"""The scaling decision: a pure function from (spec, current replicas, backlog, time, state) to a decision.

Like the HPA, but on the honest backlog: up at once (optionally capped by `scaleUpStep`), down only when
every recommendation during the stabilization window was lower, and then to the highest of them. The
state that makes the window survive an operator restart is two numbers kept in the policy's status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

TOLERANCE = 0.10

Direction = Literal["up", "down", "none"]


@dataclass(frozen=True)
class ScalingSpec:
    min_replicas: int = 1
    max_replicas: int = 20
    target_backlog_per_replica: int = 10
    scale_up_step: int = 0  # 0: no cap
    stabilization_seconds: float = 120
    tolerance: float = TOLERANCE

    def __post_init__(self) -> None:
        if self.min_replicas < 0 or self.max_replicas < 1 or self.max_replicas < self.min_replicas:
            raise ValueError(
                f"need 0 <= minReplicas <= maxReplicas and maxReplicas >= 1, "
                f"got {self.min_replicas}..{self.max_replicas}"
            )
        if self.target_backlog_per_replica < 1:
            raise ValueError("targetBacklogPerReplica must be >= 1")

    @classmethod
    def from_workers(cls, workers: dict[str, Any]) -> ScalingSpec:
        """Build from the CRD's `spec.workers` (camelCase; defaults as in the CRD)."""
        return cls(
            min_replicas=int(workers.get("minReplicas", 1)),
            max_replicas=int(workers.get("maxReplicas", 20)),
            target_backlog_per_replica=int(workers.get("targetBacklogPerReplica", 10)),
            scale_up_step=int(workers.get("scaleUpStep", 0)),
            stabilization_seconds=float(workers.get("scaleDownStabilizationSeconds", 120)),
        )

    def clamp(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True)
class ScalingState:
    """A pending scale-down: since when every recommendation was lower, and the highest of them."""

    downscale_since: float | None = None
    downscale_to: int | None = None

    def to_status(self) -> dict[str, Any]:
        return {"downscaleSince": self.downscale_since, "downscaleTo": self.downscale_to}

    @classmethod
    def from_status(cls, raw: dict[str, Any] | None) -> ScalingState:
        raw = raw or {}
        since, to = raw.get("downscaleSince"), raw.get("downscaleTo")
        if since is None or to is None:
            return cls()
        return cls(float(since), int(to))


@dataclass(frozen=True)
class Decision:
    desired: int
    recommendation: int | None
    direction: Direction
    reason: str
    state: ScalingState = field(default_factory=ScalingState)
    error: bool = False


def recommend(spec: ScalingSpec, current: int, backlog: int) -> int:
    """Replicas the backlog asks for, clamped, with the tolerance band around the current count."""
    if backlog < 0:
        raise ValueError("backlog cannot be negative")
    raw = math.ceil(backlog / spec.target_backlog_per_replica)
    if current > 0 and backlog > 0:
        ratio = backlog / (current * spec.target_backlog_per_replica)
        if abs(ratio - 1.0) <= spec.tolerance:
            raw = current
    return spec.clamp(raw)


def decide(
    spec: ScalingSpec, current: int, backlog: int | None, now: float, state: ScalingState | None = None
) -> Decision:
    """One poll's decision. `backlog=None` means Redis could not be read: hold (within bounds), never zero."""
    state = state or ScalingState()
    if backlog is None:
        held = spec.clamp(current)
        return Decision(
            desired=held,
            recommendation=None,
            direction=_direction(current, held),
            reason=f"backlog unknown (Redis unreachable): holding {held} replicas",
            state=ScalingState(),
            error=True,
        )
    rec = recommend(spec, current, backlog)
    numbers = f"backlog {backlog}, target {spec.target_backlog_per_replica}/replica"
    if rec > current:
        desired = rec if spec.scale_up_step <= 0 else min(rec, current + spec.scale_up_step)
        return Decision(desired, rec, "up", f"{numbers}: {current} -> {desired} (recommended {rec})")
    if rec == current:
        return Decision(current, rec, "none", f"{numbers}: {current} replicas fit")
    # rec < current: only after the window, and then to the highest recommendation seen during it.
    if state.downscale_since is None or state.downscale_to is None:
        pending = ScalingState(now, rec)
    else:
        pending = ScalingState(state.downscale_since, max(state.downscale_to, rec))
    assert pending.downscale_since is not None and pending.downscale_to is not None
    waited = now - pending.downscale_since
    if waited >= spec.stabilization_seconds:
        desired = min(pending.downscale_to, current)
        return Decision(
            desired,
            rec,
            _direction(current, desired),
            f"{numbers}: {current} -> {desired} after {waited:.0f}s below (stabilization "
            f"{spec.stabilization_seconds:.0f}s)",
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


def _direction(current: int, desired: int) -> Direction:
    if desired > current:
        return "up"
    if desired < current:
        return "down"
    return "none"
