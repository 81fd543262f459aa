"""The kopf handlers: thin wrappers that wire clients, call `reconcile`, and apply its status and events.

A timer ticks every second per policy; a pass does real work (Redis, API calls) only when the policy's
`pollSeconds` have passed, its generation changed, or a replay was requested, so the tick is cheap and
the per-policy poll interval is honoured without one kopf handler per interval.

No finalizer: kopf puts one on every object that has a timer (`kopf.timer` hard-codes
`requires_finalizer=True`, so the timer can be stopped before the object goes). The operator has
nothing to clean up at deletion (its Jobs and CronJob go by ownerReferences, its Redis keys belong to the
namespace, not the policy), and a finalizer makes `helm uninstall`, `kubectl delete` and namespace
deletion wait forever once the operator is gone. So the timer is registered without one, and a watch
handler stops it when the DELETED event arrives (kopf stops a timer whose `when` filter turns false).
Policies that still carry the finalizer from an older version lose it on the operator's first look.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
FINALIZER = "reviewops.dev/operator"  # no longer added; kept so kopf strips it from older policies
TIMER_ID = "reconcile"
# Condition reasons that mean this pass could not reach Redis: the pass counts as a failure
# (FallbackReplicas: the scaler gave up on the backlog after repeated failed polls and holds its fallback).
REDIS_FAILURE_REASONS = frozenset({"BacklogUnavailable", "RedisUnavailable", "FallbackReplicas"})

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
    try:
        # First, before anything is started: a port another process holds never frees itself, and a retried
        # start-up would leave the operator without metrics, probe or reconciling.
        memo.http = await start_http(app_settings.host, app_settings.operator_metrics_port)
    except OSError as exc:
        where = f"{app_settings.host}:{app_settings.operator_metrics_port}"
        raise kopf.PermanentError(
            f"REVIEWOPS_OPERATOR_METRICS_PORT: cannot listen on {where}: {exc.strerror or exc}"
        ) from None
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


def _alive(memo: kopf.Memo, **_: Any) -> bool:
    """The timer's filter: false once this object's DELETED event has been seen, which stops the timer."""
    return not getattr(memo, "deleted", False)


@kopf.on.event(GROUP, VERSION, PLURAL)
def watched(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """On DELETED: stop this object's timer (see `_alive`) and drop its gauges.

    Its Jobs and CronJob go with it by ownerReferences (garbage collection), operator or not.
    """
    if type != "DELETED":
        return
    memo.deleted = True
    policy = f"{body['metadata'].get('namespace')}/{body['metadata']['name']}"
    for gauge in (
        metrics.OPERATOR_DESIRED_REPLICAS,
        metrics.OPERATOR_CURRENT_REPLICAS,
        metrics.OPERATOR_MAX_REPLICAS,
    ):
        with contextlib.suppress(KeyError):
            gauge.remove(policy)
    for kind in ("runnable", "delayed"):
        with contextlib.suppress(KeyError):
            metrics.OPERATOR_BACKLOG.remove(policy, kind)


@kopf.timer(GROUP, VERSION, PLURAL, interval=TICK_SECONDS, id=TIMER_ID, when=_alive)
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
    max_replicas = ((raw.get("spec") or {}).get("workers") or {}).get("maxReplicas")
    if max_replicas is not None:
        metrics.OPERATOR_MAX_REPLICAS.labels(policy=policy).set(int(max_replicas))
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
        result = "error" if failed(outcome) else "success"
        metrics.OPERATOR_RECONCILES.labels(result=result).inc()
        for error in outcome.errors:
            log.warning("policy %s: %s", policy, error)


def failed(outcome: rec.Outcome) -> bool:
    """A pass failed if a call failed or it could not reach Redis (held replicas, stale limits): a Redis
    outage must show in `reconcile_total{result="error"}`, not pass as a success."""
    if outcome.errors:
        return True
    return any(
        cond.get("status") != "True" and cond.get("reason") in REDIS_FAILURE_REASONS
        for cond in outcome.status.get("conditions") or []
    )


def _register_timer_without_finalizer(handler_id: str) -> None:
    """Make the registered timer `handler_id` need no finalizer (see the module docstring).

    kopf has no public switch for this; the handler is a frozen dataclass in the default registry's
    spawning handlers, replaced here by a copy with `requires_finalizer=False`. The lifecycle tests
    (tests/reviewpolicy/test_lifecycle.py) fail if a kopf upgrade brings the finalizer back.
    """
    spawning = kopf.get_default_registry()._spawning  # private: no public API, see above
    handlers = spawning._handlers
    found = [i for i, h in enumerate(handlers) if h.id == handler_id]
    if len(found) != 1:
        raise RuntimeError(f"kopf timer {handler_id!r}: {len(found)} registered, expected 1")
    handlers[found[0]] = dataclasses.replace(handlers[found[0]], requires_finalizer=False)


_register_timer_without_finalizer(TIMER_ID)


def _plain(value: Any) -> Any:
    """kopf's bodies are read-only views; the plain functions take plain dicts."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
