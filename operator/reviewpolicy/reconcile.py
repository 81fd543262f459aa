"""One reconcile pass of one ReviewPolicy, as a plain function: the kopf timer only calls it and applies
the status patch and events it returns.

Level-triggered and idempotent: every pass compares what is in force (status, Redis, the cluster) with
the spec and fixes the difference, so a restarted operator or a retried pass does the right thing.
One writer per policy (the timer) means conditions never race.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from reviewops import redis_client
from reviewops.policy.store import write_policy
from reviewops.queue.backlog import queue_backlog
from reviewops.queue.names import DEAD_LETTERS_PENDING_KEY, WORK_QUEUES
from reviewpolicy import replay, status
from reviewpolicy.kube import Kube, KubeError
from reviewpolicy.limits import SpecError, snapshot_from_spec
from reviewpolicy.scaling import Decision, ScalingSpec, ScalingState, decide

log = logging.getLogger(__name__)

DEFAULT_QUEUES = WORK_QUEUES


@dataclass
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    scaled: str | None = None  # "up" | "down" when the Deployment was patched
    replay_job_created: bool = False
    errors: list[str] = field(default_factory=list)


def connect_redis(url: str) -> redis.Redis:
    """A client that fails fast: a pass must not hang on a dead Redis (it holds replicas and says so)."""
    return redis_client.connect(url, socket_timeout=3, retries=1)


def read_backlog(client: redis.Redis, queues: list[str]) -> dict[str, int] | None:
    try:
        return {queue: queue_backlog(client, queue) for queue in queues}
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


def _cronjob_fingerprint(manifest: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def apply_limits(body: dict[str, Any], client: redis.Redis, current: dict[str, Any]) -> list[dict[str, Any]]:
    """Write the spec's limits and review settings if this generation is not in Redis yet."""
    meta = body["metadata"]
    generation = int(meta.get("generation") or 1)
    if current.get("rateLimitsGeneration") == generation:
        return []
    policy = f"{meta['namespace']}/{meta['name']}"
    try:
        snapshot = snapshot_from_spec(body.get("spec") or {}, generation=generation, policy=policy)
    except SpecError as exc:
        return [
            status.condition(
                status.RATE_LIMITS_APPLIED, False, "InvalidSpec", str(exc), generation=generation
            )
        ]
    try:
        write_policy(client, snapshot)
    except redis.RedisError as exc:
        return [
            status.condition(
                status.RATE_LIMITS_APPLIED, False, "RedisUnavailable", f"cannot write to Redis: {exc}",
                generation=generation,
            )
        ]  # fmt: skip
    current["rateLimitsGeneration"] = generation
    return [
        status.condition(
            status.RATE_LIMITS_APPLIED, True, "Applied",
            f"generation {generation}: default and {len(snapshot.tenants)} tenant override(s) in Redis",
            generation=generation,
        )
    ]  # fmt: skip


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
    backlogs = read_backlog(client, queues)
    dead = read_dead_letters(client)
    current = _replicas(deployment)
    scaling_spec = ScalingSpec.from_workers(workers)
    state = ScalingState.from_status(prior.get("scaling"))
    decision = decide(scaling_spec, current, None if backlogs is None else sum(backlogs.values()), now, state)
    out.status["backlog"] = None if backlogs is None else sum(backlogs.values())
    out.status["backlogByQueue"] = backlogs
    if dead is not None:
        out.status["deadLetters"] = dead
    out.status["desiredReplicas"] = decision.desired
    out.status["currentReplicas"] = current
    out.status["scaling"] = decision.state.to_status()
    if decision.desired != current:
        detail = ", ".join(f"{q}={n}" for q, n in (backlogs or {}).items())
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
    if decision.error:
        conditions.append(
            status.condition(
                status.SCALING_ACTIVE, False, "BacklogUnavailable", decision.reason, generation=generation
            )
        )
    else:
        conditions.append(
            status.condition(
                status.SCALING_ACTIVE, True, "BacklogRead", decision.reason, generation=generation
            )
        )
    return decision


def handle_replay(
    body: dict[str, Any], deployment: dict[str, Any] | None, client: redis.Redis, kube: Kube, out: Outcome,
    *, poll: bool,
) -> None:  # fmt: skip
    """On-demand Job per new annotation value, the CronJob for the schedule, and `lastReplay`."""
    meta, spec = body["metadata"], body.get("spec") or {}
    prior = (body.get("status") or {}).get("replay") or {}
    generation = int(meta.get("generation") or 1)
    conditions = out.status.setdefault("_conditions", [])
    try:
        replay_spec = replay.ReplaySpec.from_spec(spec)
    except ValueError as exc:
        conditions.append(
            status.condition(status.REPLAY_IN_PROGRESS, False, "InvalidSpec", str(exc), generation=generation)
        )
        return
    handled: list[str] = list(prior.get("handledRequests") or [])
    replay_status: dict[str, Any] = {"handledRequests": handled, "cronJob": prior.get("cronJob")}
    out.status["replay"] = replay_status
    requested_at = replay.pending_request(meta.get("annotations"), handled)
    if requested_at is not None and deployment is not None:
        job = replay.replay_job(body, replay_spec, deployment, requested_at)
        created = kube.create_job(job)
        replay_status["handledRequests"] = replay.remember(handled, requested_at)
        out.replay_job_created = created
        if created:  # not again when a pass before this one made it (its status not seen yet)
            out.events.append(
                Event("Normal", "ReplayStarted", f"job {job['metadata']['name']} for request {requested_at}")
            )
        poll = True
    elif requested_at is not None:
        out.errors.append("replay requested but the worker Deployment is missing (its image is needed)")

    if deployment is not None:
        desired = replay.replay_cronjob(body, replay_spec, deployment) if replay_spec.schedule else None
        fingerprint = _cronjob_fingerprint(desired)
        if (prior.get("cronJob") or {}).get("fingerprint") != fingerprint:
            name = replay.cronjob_name(meta["name"])
            if desired is not None:
                action = kube.apply_cronjob(desired)
                replay_status["cronJob"] = {
                    "name": name,
                    "schedule": replay_spec.schedule,
                    "fingerprint": fingerprint,
                }
                if action != "unchanged":
                    out.events.append(Event("Normal", "ReplayScheduled", f"cronjob {name} {action}"))
            else:
                if prior.get("cronJob"):
                    kube.delete_cronjob(meta["namespace"], name)
                    out.events.append(Event("Normal", "ReplayUnscheduled", f"cronjob {name} deleted"))
                replay_status["cronJob"] = {"name": None, "schedule": None, "fingerprint": fingerprint}

    if not poll:
        return
    jobs = kube.list_jobs(meta["namespace"], {replay.POLICY_LABEL: meta["name"]})
    owned = jobs  # on-demand Jobs and the CronJob's Jobs all carry the policy label
    if not owned:
        conditions.append(
            status.condition(
                status.REPLAY_IN_PROGRESS, False, "NoReplay", "no replay job exists", generation=generation
            )
        )
        return
    newest = max(owned, key=lambda j: (j["metadata"].get("creationTimestamp") or "", j["metadata"]["name"]))
    try:
        result = replay.parse_result(client.get(replay.result_key(newest["metadata"]["name"])))
    except redis.RedisError:
        result = None
    last = replay.last_replay(newest, result)
    out.status["lastReplay"] = last
    running = last["state"] == "Running"
    conditions.append(
        status.condition(
            status.REPLAY_IN_PROGRESS, running, "JobRunning" if running else "JobFinished",
            f"job {last['jobName']}: {last['state']}", generation=generation,
        )
    )  # fmt: skip


def reconcile(body: dict[str, Any], *, client: redis.Redis, kube: Kube, now: float, poll: bool) -> Outcome:
    """One pass. `poll` says whether this policy's pollSeconds have passed (scaling and replay results)."""
    meta = body["metadata"]
    generation = int(meta.get("generation") or 1)
    prior = dict(body.get("status") or {})
    out = Outcome(status={})
    conditions: list[dict[str, Any]] = out.status.setdefault("_conditions", [])
    tracked = {"rateLimitsGeneration": prior.get("rateLimitsGeneration")}
    conditions += apply_limits(body, client, tracked)
    if tracked["rateLimitsGeneration"] != prior.get("rateLimitsGeneration"):
        out.status["rateLimitsGeneration"] = tracked["rateLimitsGeneration"]

    workers = (body.get("spec") or {}).get("workers") or {}
    annotations = meta.get("annotations") or {}
    replay_wanted = replay.pending_request(annotations, ((prior.get("replay") or {}).get("handledRequests")))
    generation_changed = prior.get("observedGeneration") != generation
    if not (poll or replay_wanted or generation_changed):
        return _finish(out, prior, generation, changed_only=True)

    deployment: dict[str, Any] | None = None
    try:
        deployment = kube.get_deployment(meta["namespace"], workers.get("deploymentName", "reviewops-worker"))
        if poll:
            scale(body, deployment, client, kube, now, out)
    except KubeError as exc:
        out.errors.append(str(exc))
        conditions.append(
            status.condition(status.SCALING_ACTIVE, False, "KubernetesError", str(exc), generation=generation)
        )
    try:
        handle_replay(body, deployment, client, kube, out, poll=poll)
    except KubeError as exc:  # the request stays pending (not remembered): the next pass retries it
        out.errors.append(str(exc))
        conditions.append(
            status.condition(
                status.REPLAY_IN_PROGRESS, "Unknown", "KubernetesError", str(exc), generation=generation
            )
        )
    return _finish(out, prior, generation, changed_only=False)


def _finish(out: Outcome, prior: dict[str, Any], generation: int, *, changed_only: bool) -> Outcome:
    updates = out.status.pop("_conditions", [])
    if changed_only and not updates:
        return out
    merged = status.merge_conditions(prior.get("conditions"), _dedupe(updates))
    merged = status.merge_conditions(merged, [status.ready_condition(merged, generation)])
    out.status["conditions"] = merged
    out.status["observedGeneration"] = generation
    return out


def _dedupe(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several steps may report the same condition type: a failure wins over success."""
    chosen: dict[str, dict[str, Any]] = {}
    for cond in updates:
        old = chosen.get(cond["type"])
        if old is None or (
            old["status"] == "True" and cond["status"] != "True" and cond["type"] != status.REPLAY_IN_PROGRESS
        ):
            chosen[cond["type"]] = cond
    return list(chosen.values())
