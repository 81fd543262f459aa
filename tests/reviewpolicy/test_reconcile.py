"""One reconcile pass against the Kubernetes emulator and Redis, without kopf: errors and scale-to-zero."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from reviewpolicy.kube import Kube
from reviewpolicy.reconcile import DEAD_LETTERS_PENDING_KEY, connect_redis, reconcile

from tests.reviewpolicy.emulator import Api, EmulatorThread
from tests.reviewpolicy.test_operator_e2e import policy, worker_deployment
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def kube(cluster: EmulatorThread) -> Iterator[Kube]:
    client = Kube.from_environment()  # through the kubeconfig, like the operator outside a cluster
    yield client
    client.close()


def body_in(api: Api, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
    created = api.create("rp", ns, obj)
    return created


def apply_status(api: Api, ns: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    api.http.patch(
        api.path("rp", ns, name) + "/status", json={"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()  # fmt: skip
    found = api.get("rp", ns, name)
    assert found is not None
    return found


def test_redis_down_holds_replicas_and_says_why(api: Api, kube: Kube) -> None:
    ns = "redis-down"
    api.create("deployments", ns, worker_deployment(replicas=3))
    body = body_in(api, ns, policy("p", minReplicas=0))
    dead = connect_redis(f"redis://127.0.0.1:{free_port()}/0")  # the operator's own client settings
    out = reconcile(body, client=dead, kube=kube, now=1000.0, poll=True)
    assert out.scaled is None and out.scaler_error
    assert [(e.type, e.reason) for e in out.events] == [
        ("Warning", "RedisUnavailable"), ("Warning", "BacklogUnavailable")
    ]  # fmt: skip
    deployment = api.get("deployments", ns, "reviewops-worker")
    assert deployment is not None and deployment["spec"]["replicas"] == 3
    assert out.status["desiredReplicas"] == 3 and out.status["backlog"] is None
    conditions = {c["type"]: c for c in out.status["conditions"]}
    assert conditions["ScalingActive"]["status"] == "False"
    assert conditions["ScalingActive"]["reason"] == "BacklogUnavailable"
    assert conditions["RateLimitsApplied"]["reason"] == "RedisUnavailable"
    assert conditions["Ready"]["status"] == "False"
    assert "rateLimitsGeneration" not in out.status  # retried on the next pass


def test_scale_to_zero_and_back_on_the_first_message(api: Api, kube: Kube, redis_client: redis.Redis) -> None:
    ns = "to-zero"
    api.create("deployments", ns, worker_deployment(replicas=1))
    body = body_in(api, ns, policy("p", minReplicas=0, scaleDownStabilizationSeconds=30))
    redis_client.set(DEAD_LETTERS_PENDING_KEY, "4")

    first = reconcile(body, client=redis_client, kube=kube, now=1000.0, poll=True)
    assert first.scaled is None
    assert first.status["scaling"] | {"downscaleSince": 1000.0, "downscaleTo": 0} == first.status["scaling"]
    assert first.status["deadLetters"] == 4 and first.status["rateLimitsGeneration"] == 1
    body = apply_status(api, ns, "p", first.status)

    second = reconcile(body, client=redis_client, kube=kube, now=1031.0, poll=True)
    assert second.scaled == "down" and second.events[0].reason == "ScaledDown"
    assert "backlog 0" in second.events[0].message
    assert api.get("deployments", ns, "reviewops-worker")["spec"]["replicas"] == 0  # type: ignore[index]
    body = apply_status(api, ns, "p", second.status)

    redis_client.hset("dramatiq:reviews.DQ.msgs", "m1", "{}")  # a delayed retry counts as backlog
    third = reconcile(body, client=redis_client, kube=kube, now=1032.0, poll=True)
    assert third.scaled == "up" and third.status["desiredReplicas"] == 1
    assert third.status["backlogByQueue"] == {"reviews": 1, "reviews.replay": 0}
    assert api.get("deployments", ns, "reviewops-worker")["spec"]["replicas"] == 1  # type: ignore[index]


def test_invalid_limits_are_a_condition_not_a_crash(api: Api, kube: Kube, redis_client: redis.Redis) -> None:
    ns = "bad-limits"
    api.create("deployments", ns, worker_deployment())
    obj = policy("p")
    obj["spec"]["rateLimits"]["tenants"].append({"installationId": 1234})
    body = body_in(api, ns, obj)
    out = reconcile(body, client=redis_client, kube=kube, now=1.0, poll=True)
    conditions = {c["type"]: c for c in out.status["conditions"]}
    assert conditions["RateLimitsApplied"]["reason"] == "InvalidSpec"
    assert "listed twice" in conditions["RateLimitsApplied"]["message"]
    assert redis_client.get("reviewops:policy:meta") is None


def test_a_pass_with_nothing_due_does_nothing(api: Api, kube: Kube, redis_client: redis.Redis) -> None:
    ns = "idle"
    api.create("deployments", ns, worker_deployment())
    body = body_in(api, ns, policy("p"))
    body = apply_status(
        api, ns, "p", reconcile(body, client=redis_client, kube=kube, now=1.0, poll=True).status
    )
    again = reconcile(body, client=redis_client, kube=kube, now=2.0, poll=False)
    assert again.status == {} and again.events == []
