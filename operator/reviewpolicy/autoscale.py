"""The scaling step of a pass: read the backlog (delayed work split off), decide, patch `/scale`, report.

Separate from `reconcile` so the pass reads as its steps; the decision itself is the pure
`scaling.decide`. Pause annotations (KEDA's `paused` / `paused-replicas` under our prefix) bypass the
decision but not the reading: a paused policy still reports its backlog.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from reviewops.queue import backlog
from reviewops.queue.backlog import Backlog
from reviewops.queue.names import DEAD_LETTERS_PENDING_KEY, WORK_QUEUES
from reviewpolicy import status
from reviewpolicy.kube import Kube, KubeError
from reviewpolicy.outcome import Event, Outcome
from reviewpolicy.scaling import Decision, ScalingSpec, ScalingState, decide

log = logging.getLogger(__name__)

DEFAULT_QUEUES = WORK_QUEUES
PAUSED_ANNOTATION = "reviewops.dev/paused"  # "true": the operator leaves the replica count alone
PAUSED_REPLICAS_ANNOTATION = "reviewops.dev/paused-replicas"  # "N": scale to N and hold there


def read_backlog(
    client: redis.Redis, queues: list[str], now: float, horizon: float
) -> dict[str, Backlog] | None:
    """Each queue's backlog, delayed messages split at `now + horizon` (one poll ahead)."""
    try:
        return {
            q: backlog.read_backlog(client, q, now_ms=now * 1000, horizon_seconds=horizon) for q in queues
        }
    except redis.RedisError as exc:
        log.warning("cannot read the backlog from Redis: %s", exc)
        return None


def read_dead_letters(client: redis.Redis) -> int | None:
    """The DLQ component keeps the pending dead-letter count in a plain string key."""
    try:
        raw = client.get(DEAD_LETTERS_PENDING_KEY)
    except redis.RedisError:
        return None
    try:
        return max(0, int(raw)) if raw is not None else 0
    except (TypeError, ValueError):
        return None


def _replicas(deployment: dict[str, Any]) -> int:
    value = (deployment.get("spec") or {}).get("replicas")
    return int(value) if value is not None else 1  # the API server's default


def scale(
    body: dict[str, Any], deployment: dict[str, Any] | None, client: redis.Redis, kube: Kube, now: float,
    out: Outcome,
) -> Decision | None:  # fmt: skip
    """Poll the backlog and patch the worker Deployment's scale subresource when the decision says so."""
    meta, spec = body["metadata"], body.get("spec") or {}
    workers = spec.get("workers") or {}
    generation = int(meta.get("generation") or 1)
    name = workers.get("deploymentName", "reviewops-worker")
    prior = body.get("status") or {}
    conditions = out.status.setdefault("_conditions", [])
    if deployment is None:
        conditions.append(
            status.condition(
                status.SCALING_ACTIVE, False, "DeploymentNotFound",
                f"worker Deployment {meta['namespace']}/{name} does not exist", generation=generation,
            )
        )  # fmt: skip
        return None
    queues = list(workers.get("queues") or DEFAULT_QUEUES)
    horizon = float(workers.get("pollSeconds", 10))
    backlogs = read_backlog(client, queues, now, horizon)
    dead = read_dead_letters(client)
    current = _replicas(deployment)
    scaling_spec = ScalingSpec.from_workers(workers)
    state = ScalingState.from_status(prior.get("scaling"))
    runnable = None if backlogs is None else sum(b.runnable for b in backlogs.values())
    paused = paused_replicas(meta.get("annotations"), current)
    if paused is not None:
        decision = Decision(paused, None, "none", f"paused by annotation: holding {paused} replicas", state)
        if paused != current:
            decision = Decision(paused, None, "up" if paused > current else "down",
                                f"paused by annotation at {paused} replicas", state)  # fmt: skip
    else:
        decision = decide(scaling_spec, current, runnable, now, state)
    out.scaler_error = backlogs is None
    out.status["backlog"] = runnable
    out.status["backlogByQueue"] = None if backlogs is None else {q: b.runnable for q, b in backlogs.items()}
    out.status["delayed"] = None if backlogs is None else sum(b.delayed_later for b in backlogs.values())
    out.status["delayedByQueue"] = (
        None if backlogs is None else {q: b.delayed_later for q, b in backlogs.items()}
    )
    if dead is not None:
        out.status["deadLetters"] = dead
    out.status["desiredReplicas"] = decision.desired
    out.status["currentReplicas"] = current
    out.status["scaling"] = decision.state.to_status()
    if decision.desired != current:
        detail = ", ".join(f"{q}={b.runnable}" for q, b in (backlogs or {}).items())
        message = f"{current} -> {decision.desired} replicas: {decision.reason}" + (
            f" [{detail}]" if detail else ""
        )
        try:
            kube.scale_deployment(meta["namespace"], name, decision.desired)
        except KubeError as exc:
            out.errors.append(str(exc))
            conditions.append(
                status.condition(status.SCALING_ACTIVE, False, "ScaleFailed", str(exc), generation=generation)
            )
            return decision
        out.scaled = decision.direction
        out.status["currentReplicas"] = decision.desired
        out.status["lastScaleTime"] = status.rfc3339()
        out.status["lastScaleReason"] = message
        reason = "ScaledUp" if decision.desired > current else "ScaledDown"
        out.events.append(Event("Normal" if not decision.error else "Warning", reason, message))
    prior_reason = (status.find(prior.get("conditions"), status.SCALING_ACTIVE) or {}).get("reason")
    if paused is not None:
        conditions.append(
            status.condition(status.SCALING_ACTIVE, False, "Paused", decision.reason, generation=generation)
        )
    elif decision.error:
        reason = "FallbackReplicas" if decision.fallback else "BacklogUnavailable"
        if prior_reason not in ("BacklogUnavailable", "FallbackReplicas"):
            out.events.append(Event("Warning", "BacklogUnavailable", decision.reason))
        conditions.append(
            status.condition(status.SCALING_ACTIVE, False, reason, decision.reason, generation=generation)
        )
    else:
        conditions.append(
            status.condition(
                status.SCALING_ACTIVE, True, "BacklogRead", decision.reason, generation=generation
            )
        )
    return decision


def paused_replicas(annotations: dict[str, str] | None, current: int) -> int | None:
    """The replica count a pause annotation pins, or None when scaling is not paused (KEDA's
    `autoscaling.keda.sh/paused` and `paused-replicas`, under our own prefix)."""
    annotations = annotations or {}
    pinned = annotations.get(PAUSED_REPLICAS_ANNOTATION, "").strip()
    if pinned.isdigit():
        return int(pinned)
    if annotations.get(PAUSED_ANNOTATION, "").strip().lower() == "true":
        return current
    return None
