"""The kopf handlers: thin wrappers that wire clients, call `reconcile`, and apply its status and events.

A timer ticks every second per policy; a pass does real work (Redis, API calls) only when the policy's
`pollSeconds` have passed, its generation changed, or a replay was requested, so the tick is cheap and
the per-policy poll interval is honoured without one kopf handler per interval.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import httpx
import kopf

from reviewops.settings import ConfigurationError, load_settings
from reviewops.telemetry import metrics
from reviewpolicy import reconcile as rec
from reviewpolicy.kube import Kube, own_namespace
from reviewpolicy.lease import LeaderElector, default_identity
from reviewpolicy.serving import start_http, stop_http

GROUP, VERSION, PLURAL = "reviewops.dev", "v1alpha1", "reviewpolicies"
TICK_SECONDS = 1.0
FINALIZER = "reviewops.dev/operator"

log = logging.getLogger(__name__)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Fail fast on bad configuration; build the Redis and Kubernetes clients once."""
    try:
        app_settings = load_settings()
    except ConfigurationError as exc:
        raise kopf.PermanentError(str(exc)) from None
    if not app_settings.redis_url:
        raise kopf.PermanentError("REVIEWOPS_REDIS_URL: required by the operator")
    settings.persistence.finalizer = FINALIZER
    settings.posting.level = logging.WARNING  # no "Timer succeeded" Event every second; ours are explicit
    if app_settings.log_level != "DEBUG":
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    memo.redis = rec.connect_redis(app_settings.redis_url)
    memo.kube = Kube.from_environment()
    memo.leader = None
    if app_settings.operator_leader_election:
        identity = default_identity()
        memo.kube.identify(identity)
        namespace = app_settings.operator_lease_namespace or own_namespace()
        memo.leader = LeaderElector(
            Kube.from_environment(), namespace, app_settings.operator_lease_name, identity,
            lease_seconds=app_settings.operator_lease_seconds,
        )  # fmt: skip
        memo.leader.kube.identify(identity)
        memo.leader.start()
    memo.http = await start_http(app_settings.host, app_settings.operator_metrics_port)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    if getattr(memo, "leader", None) is not None:
        memo.leader.stop()
        memo.leader.kube.close()
    if getattr(memo, "http", None) is not None:
        await stop_http(memo.http)
    if getattr(memo, "redis", None) is not None:
        memo.redis.close()
    if getattr(memo, "kube", None) is not None:
        memo.kube.close()


@kopf.timer(GROUP, VERSION, PLURAL, interval=TICK_SECONDS, id="reconcile")
def tick(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    """Reconcile one policy; the work is in `reconcile.reconcile`. A standby (no Lease) does nothing."""
    leader = getattr(memo, "leader", None)
    if leader is not None and not leader.is_leader():
        return
    raw = _plain(body)
    poll_seconds = float(((raw.get("spec") or {}).get("workers") or {}).get("pollSeconds", 10))
    last_poll = getattr(memo, "last_poll", None)
    now = time.monotonic()
    poll = last_poll is None or now - last_poll >= poll_seconds
    try:
        outcome = rec.reconcile(raw, client=memo.redis, kube=memo.kube, now=time.time(), poll=poll)
    except httpx.HTTPError as exc:  # the API server is unreachable: retry on the next tick
        metrics.OPERATOR_RECONCILES.labels(result="error").inc()
        raise kopf.TemporaryError(f"Kubernetes API: {exc}", delay=TICK_SECONDS) from exc
    except Exception:
        metrics.OPERATOR_RECONCILES.labels(result="error").inc()
        raise
    if poll:
        memo.last_poll = now
    for key, value in outcome.status.items():
        patch.status[key] = value
    policy = f"{raw['metadata']['namespace']}/{raw['metadata']['name']}"
    if "desiredReplicas" in outcome.status:
        metrics.OPERATOR_DESIRED_REPLICAS.labels(policy=policy).set(outcome.status["desiredReplicas"])
    if "currentReplicas" in outcome.status:
        metrics.OPERATOR_CURRENT_REPLICAS.labels(policy=policy).set(outcome.status["currentReplicas"])
    if "backlog" in outcome.status:
        for kind, key in (("runnable", "backlog"), ("delayed", "delayed")):
            value = outcome.status.get(key)
            if value is not None:
                metrics.OPERATOR_BACKLOG.labels(policy=policy, kind=kind).set(value)
    if outcome.scaler_error:
        metrics.OPERATOR_SCALER_ERRORS.labels(policy=policy).inc()
    if outcome.scaled in ("up", "down"):
        metrics.OPERATOR_SCALE_EVENTS.labels(direction=outcome.scaled).inc()
    if outcome.replay_job_created:
        metrics.OPERATOR_REPLAY_JOBS.inc()
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if outcome.status or outcome.events:
        result = "error" if outcome.errors else "success"
        metrics.OPERATOR_RECONCILES.labels(result=result).inc()
        for error in outcome.errors:
            log.warning("policy %s: %s", policy, error)


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
def deleted(body: kopf.Body, **_: Any) -> None:
    """Drop the policy's gauge; its Jobs and CronJob go with it (ownerReferences, garbage collection)."""
    policy = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
    for gauge in (metrics.OPERATOR_DESIRED_REPLICAS, metrics.OPERATOR_CURRENT_REPLICAS):
        with contextlib.suppress(KeyError):
            gauge.remove(policy)
    for kind in ("runnable", "delayed"):
        with contextlib.suppress(KeyError):
            metrics.OPERATOR_BACKLOG.remove(policy, kind)


def _plain(value: Any) -> Any:
    """kopf's bodies are read-only views; the plain functions take plain dicts."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
