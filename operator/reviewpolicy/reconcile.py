"""One reconcile pass of one ReviewPolicy, as a plain function: the kopf timer only calls it and applies
the status patch and events it returns.

Level-triggered and idempotent: every pass compares what is in force (status, Redis, the cluster) with
the spec and fixes the difference, so a restarted operator or a retried pass does the right thing.
One writer per policy (the timer of the one operator holding the Lease, see `lease`) means conditions
never race. Each poll also reads Redis and the cluster back and repairs drift (`drift`, the CronJob).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis

from reviewops import redis_client
from reviewops.policy.store import write_policy
from reviewops.queue.names import DEAD_LETTERS_PENDING_KEY
from reviewpolicy import drift, replay, status
from reviewpolicy.autoscale import (
    DEFAULT_QUEUES,
    PAUSED_ANNOTATION,
    PAUSED_REPLICAS_ANNOTATION,
    paused_replicas,
    read_backlog,
    read_dead_letters,
    scale,
)
from reviewpolicy.kube import Kube, KubeError
from reviewpolicy.limits import SpecError, snapshot_from_spec
from reviewpolicy.outcome import Event, Outcome

__all__ = [  # the pass's parts, importable from here as before the split
    "DEAD_LETTERS_PENDING_KEY", "DEFAULT_QUEUES", "PAUSED_ANNOTATION", "PAUSED_REPLICAS_ANNOTATION", "Event",
    "Outcome", "connect_redis", "paused_replicas", "read_backlog", "read_dead_letters", "reconcile",
]  # fmt: skip

log = logging.getLogger(__name__)


def connect_redis(url: str) -> redis.Redis:
    """A client that fails fast: a pass must not hang on a dead Redis (it holds replicas and says so)."""
    return redis_client.connect(url, socket_timeout=3, retries=1)


def _cronjob_fingerprint(manifest: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def apply_limits(
    body: dict[str, Any], client: redis.Redis, current: dict[str, Any], out: Outcome, *, poll: bool
) -> list[dict[str, Any]]:
    """Write the spec's limits and review settings when the generation is new, and on every poll check
    Redis against the spec and rewrite what drifted (a flush, a restart without persistence, a hand edit).
    """
    meta = body["metadata"]
    generation = int(meta.get("generation") or 1)
    prior = status.find((body.get("status") or {}).get("conditions"), status.RATE_LIMITS_APPLIED) or {}
    new_generation = current.get("rateLimitsGeneration") != generation
    if not new_generation and not poll:
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
    repaired: tuple[str, ...] = ()
    try:
        if not new_generation:
            found = drift.check(client, snapshot)
            if found.owner is not None:
                message = (
                    f"Redis holds the policy of {found.owner}: one ReviewPolicy per Redis; not overwritten"
                )
                return [
                    status.condition(
                        status.RATE_LIMITS_APPLIED, False, "OwnedByAnotherPolicy", message, generation=generation
                    )
                ]  # fmt: skip
            if found.in_sync:
                if prior.get("status") == "True":
                    return []  # nothing changed: no status write
                return [_applied(generation, snapshot, "Applied")]
            repaired = found.problems
        write_policy(client, snapshot)
    except redis.RedisError as exc:
        if prior.get("reason") != "RedisUnavailable":
            out.events.append(
                Event("Warning", "RedisUnavailable", f"cannot reach Redis for the policy: {exc}")
            )
        return [
            status.condition(
                status.RATE_LIMITS_APPLIED, False, "RedisUnavailable", f"cannot reach Redis: {exc}",
                generation=generation,
            )
        ]  # fmt: skip
    current["rateLimitsGeneration"] = generation
    if not repaired:
        return [_applied(generation, snapshot, "Applied")]
    what = "; ".join(repaired)
    out.repairs.append(f"Redis policy rewritten ({what})")
    out.events.append(
        Event("Normal", "DriftRepaired", f"Redis policy of generation {generation} rewritten: {what}")
    )
    return [_applied(generation, snapshot, "Repaired", f" (repaired: {what})")]


def _applied(generation: int, snapshot: Any, reason: str, note: str = "") -> dict[str, Any]:
    return status.condition(
        status.RATE_LIMITS_APPLIED, True, reason,
        f"generation {generation}: default and {len(snapshot.tenants)} tenant override(s) in Redis{note}",
        generation=generation,
    )  # fmt: skip


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
        known = (prior.get("cronJob") or {}).get("fingerprint") == fingerprint
        if desired is not None and (poll or not known):
            # Every poll, not only on a spec change: a CronJob deleted or edited out of band is put back.
            name = replay.cronjob_name(meta["name"])
            action = kube.apply_cronjob(desired)
            replay_status["cronJob"] = {
                "name": name,
                "schedule": replay_spec.schedule,
                "fingerprint": fingerprint,
            }
            if action != "unchanged" and known:
                what = (
                    "was missing: re-created" if action == "created" else "differed from the spec: restored"
                )
                out.repairs.append(f"cronjob {name} {what}")
                out.events.append(Event("Normal", "DriftRepaired", f"cronjob {name} {what}"))
            elif action != "unchanged":
                out.events.append(Event("Normal", "ReplayScheduled", f"cronjob {name} {action}"))
        elif desired is None and not known:
            name = replay.cronjob_name(meta["name"])
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
    before = (body.get("status") or {}).get("lastReplay") or {}
    if last["state"] == "Failed" and (before.get("jobName"), before.get("state")) != (
        last["jobName"],
        "Failed",
    ):
        out.events.append(
            Event("Warning", "ReplayFailed", f"replay job {last['jobName']} failed; see its pod's log")
        )
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
    conditions += apply_limits(body, client, tracked, out, poll=poll)
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
    if out.repairs:
        updates.append(
            status.condition(
                status.DRIFT_REPAIRED, True, "Repaired", "; ".join(out.repairs), generation=generation
            )
        )
    elif (
        not changed_only
        and (status.find(prior.get("conditions"), status.DRIFT_REPAIRED) or {}).get("status") == "True"
    ):
        updates.append(
            status.condition(
                status.DRIFT_REPAIRED, False, "InSync", "the last poll found nothing to repair",
                generation=generation,
            )
        )  # fmt: skip
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
