"""The real kopf operator against kmock's Kubernetes emulator and a real Redis with real dramatiq queues."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis

from reviewops.policy.store import read_generation, read_limits, read_review_settings, TenantLimits
from reviewops.queue.broker import build_broker, enqueue_delivery
from tests.reviewpolicy.emulator import Api, EmulatorThread
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def worker_deployment(name: str = "reviewops-worker", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": "reviewops-worker",
                    "containers": [
                        {
                            "name": "worker",
                            "image": "ghcr.io/reviewops/reviewops:1.2.3",
                            "args": ["worker"],
                            "env": [{"name": "REVIEWOPS_LOG_LEVEL", "value": "INFO"}],
                            "envFrom": [{"secretRef": {"name": "reviewops-env"}}],
                        }
                    ],
                },
            },
        },
    }


def policy(name: str, **workers: Any) -> dict[str, Any]:
    return {
        "apiVersion": "reviewops.dev/v1alpha1",
        "kind": "ReviewPolicy",
        "metadata": {"name": name},
        "spec": {
            "workers": {
                "deploymentName": "reviewops-worker",
                "queues": ["reviews", "reviews.replay"],
                "minReplicas": 1,
                "maxReplicas": 5,
                "targetBacklogPerReplica": 2,
                "scaleDownStabilizationSeconds": 2,
                "pollSeconds": 1,
                **workers,
            },
            "rateLimits": {
                "default": {"requestsPerMinute": 600, "burst": 100, "reviewsPerHour": 200, "llmTokensPerDay": 2000000},
                "tenants": [{"installationId": 1234, "requestsPerMinute": 6000, "reviewsPerHour": 2000}],
            },
            "review": {"analyzers": {"secrets": True, "llm": False}, "severityThreshold": "error", "skipDrafts": False},
        },
    }


def replicas(api: Api, ns: str) -> int:
    dep = api.get("deployments", ns, "reviewops-worker")
    assert dep is not None
    return int(dep["spec"]["replicas"])


def status(api: Api, ns: str, name: str) -> dict[str, Any]:
    obj = api.get("rp", ns, name)
    return dict((obj or {}).get("status") or {})


def cond(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions") or [] if c["type"] == type_), {})


def test_scaling_follows_the_real_backlog(operator: Any, api: Api, redis_url: str, rdb: redis.Redis) -> None:
    ns = "scale"
    rdb.delete("dramatiq:reviews.msgs", "dramatiq:reviews", "dramatiq:reviews.replay.msgs")
    api.create("deployments", ns, worker_deployment())
    api.create("rp", ns, policy("workers"))
    wait_until(lambda: cond(status(api, ns, "workers"), "Ready").get("status") == "True", what="Ready")
    broker = build_broker(redis_url)
    try:
        for delivery_id in range(7):
            enqueue_delivery(broker, delivery_id)
        enqueue_delivery(broker, 99, queue="reviews.replay")
    finally:
        broker.close()
    assert rdb.hlen("dramatiq:reviews.msgs") == 7
    wait_until(lambda: replicas(api, ns) == 4, what="scale up to ceil(8/2)")
    st = wait_until(lambda: (s := status(api, ns, "workers")).get("lastScaleReason") and s, what="status")
    assert st["backlog"] == 8 and st["desiredReplicas"] == 4
    assert "backlog 8" in st["lastScaleReason"]
    events = api.list("events", ns)
    assert any(e.get("reason") == "ScaledUp" and "backlog 8" in e.get("message", "") for e in events), events

    rdb.delete("dramatiq:reviews.msgs", "dramatiq:reviews", "dramatiq:reviews.replay.msgs", "dramatiq:reviews.replay")
    held = wait_until(
        lambda: (s := status(api, ns, "workers")).get("scaling", {}).get("downscaleTo") == 1 and s,
        what="a pending scale-down",
    )
    assert held["desiredReplicas"] == 4 and replicas(api, ns) in (4, 1)
    wait_until(lambda: replicas(api, ns) == 1, what="scale down after the window")
    api.delete("rp", ns, "workers")
    wait_until(lambda: api.get("rp", ns, "workers") is None, what="policy deleted")


def test_zz_dump(cluster: EmulatorThread) -> None:
    seen = set()
    for r in cluster.requests:
        res = r.resource
        seen.add((r.method.value, res.group if res else None, res.plural if res else None, r.subresource, bool(r.name), dict(r.params).get("watch"), str(r.url.path) if not res or not res.plural else ""))
    for s in sorted(seen, key=str):
        open("/tmp/rp-requests.txt", "a").write(repr(s) + "\n")
    open("/tmp/rp-requests.txt", "a").write(repr(cluster.errors()) + "\n")
