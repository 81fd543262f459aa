"""Day-two behaviour of the real operator (kopf against the kmock emulator, real Redis, real dramatiq
messages): lost state repaired within two polls, delayed work not scaled on, pause annotations."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from reviewpolicy.reconcile import PAUSED_ANNOTATION, PAUSED_REPLICAS_ANNOTATION

from reviewops.policy.store import TenantLimits, read_generation, read_limits, read_review_settings
from reviewops.queue.broker import build_broker, delivery_message
from tests.reviewpolicy.emulator import TEST_AGENT, Api, EmulatorThread
from tests.reviewpolicy.test_operator_e2e import (
    cond,
    policy,
    replicas,
    schema_problems,
    status,
    worker_deployment,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def polls(cluster: EmulatorThread, ns: str) -> int:
    """The operator's polls of a policy so far: each one reads the worker Deployment once."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/reviewops-worker"
    return sum(
        1 for r in cluster.requests
        if r.method.value == "GET" and r.url.path == path and r.headers.get("User-Agent") != TEST_AGENT
    )  # fmt: skip


def events(api: Api, ns: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in api.list("events", ns) if e.get("reason") == reason]


def test_a_flushed_redis_is_repaired_within_two_polls(
    operator: Any, api: Api, cluster: EmulatorThread, rdb: redis.Redis
) -> None:
    ns = "flush"
    api.create("deployments", ns, worker_deployment())
    api.create("rp", ns, policy("p", pollSeconds=2))
    wait_until(lambda: cond(status(api, ns, "p"), "Ready").get("status") == "True", what="Ready")
    assert read_generation(rdb) == 1

    rdb.flushall()
    before = polls(cluster, ns)
    wait_until(lambda: read_generation(rdb) == 1, what="the policy rewritten")
    assert polls(cluster, ns) - before <= 2
    assert read_limits(rdb, 1234, TenantLimits(1, 1, 1, 1)) == TenantLimits(6000, 100, 2000, 2_000_000)
    review = read_review_settings(rdb)
    assert review is not None and review.severity_threshold == "error"
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "DriftRepaired").get("status") == "True" and s,
        what="condition",
    )
    assert "no policy in Redis" in cond(st, "DriftRepaired")["message"]
    assert cond(st, "RateLimitsApplied")["reason"] == "Repaired"
    wait_until(lambda: events(api, ns, "DriftRepaired"), what="a DriftRepaired event")
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "DriftRepaired").get("reason") == "InSync" and s,
        what="in sync",
    )
    assert cond(st, "Ready")["status"] == "True" and schema_problems(api.get("rp", ns, "p")) == []
    api.delete("rp", ns, "p")
    wait_until(lambda: api.get("rp", ns, "p") is None, what="policy deleted")


def test_a_deleted_or_edited_cronjob_is_repaired_within_two_polls(
    operator: Any, api: Api, cluster: EmulatorThread
) -> None:
    ns = "cron"
    api.create("deployments", ns, worker_deployment())
    body = policy("p", pollSeconds=2)
    body["spec"]["deadLetters"] = {"replay": {"schedule": "*/30 * * * *"}}
    api.create("rp", ns, body)
    [cronjob] = wait_until(lambda: api.list("cronjobs", ns), what="the replay cronjob")
    name, owners = cronjob["metadata"]["name"], cronjob["metadata"]["ownerReferences"]

    api.delete("cronjobs", ns, name)
    before = polls(cluster, ns)
    wait_until(lambda: api.get("cronjobs", ns, name) is not None, what="the cronjob re-created")
    assert polls(cluster, ns) - before <= 2
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "DriftRepaired").get("status") == "True" and s,
        what="condition",
    )
    assert f"cronjob {name} was missing: re-created" in cond(st, "DriftRepaired")["message"]

    api.patch("cronjobs", ns, name, {"metadata": {"ownerReferences": None}, "spec": {"schedule": "@yearly"}})
    before = polls(cluster, ns)
    wait_until(
        lambda: (c := api.get("cronjobs", ns, name)) is not None and c["spec"]["schedule"] == "*/30 * * * *",
        what="the schedule restored",
    )
    assert polls(cluster, ns) - before <= 2
    restored = api.get("cronjobs", ns, name)
    assert restored is not None and restored["metadata"]["ownerReferences"] == owners
    wait_until(lambda: len(events(api, ns, "DriftRepaired")) >= 2, what="two DriftRepaired events")
    api.delete("rp", ns, "p")
    wait_until(lambda: api.get("rp", ns, "p") is None, what="policy deleted")
    api.collect_garbage(ns)


def test_delayed_messages_not_due_do_not_scale_up(
    operator: Any, api: Api, cluster: EmulatorThread, redis_url: str, rdb: redis.Redis
) -> None:
    ns = "delayed"
    rdb.delete("dramatiq:reviews.msgs", "dramatiq:reviews.DQ.msgs", "dramatiq:reviews", "dramatiq:reviews.DQ")
    broker = build_broker(redis_url)
    try:
        for delivery_id in range(300):  # held by a tenant's hourly limit: due in an hour
            broker.enqueue(delivery_message(10_000 + delivery_id), delay=3_600_000)
        for delivery_id in range(3):  # a fairness deferral: due at once
            broker.enqueue(delivery_message(20_000 + delivery_id), delay=1)
    finally:
        broker.close()
    assert rdb.hlen("dramatiq:reviews.DQ.msgs") == 303
    api.create("deployments", ns, worker_deployment())
    api.create("rp", ns, policy("p"))  # target 2 per replica, max 5: 303 counted would be 5 replicas
    st = wait_until(lambda: (s := status(api, ns, "p")).get("delayed") == 300 and s, what="delayed reported")
    assert st["backlog"] == 3 and st["delayedByQueue"] == {"reviews": 300, "reviews.replay": 0}
    wait_until(lambda: replicas(api, ns) == 2, what="ceil(3/2) for the due messages")
    before = polls(cluster, ns)
    wait_until(lambda: polls(cluster, ns) >= before + 3, what="three more polls")
    assert replicas(api, ns) == 2 and status(api, ns, "p")["desiredReplicas"] == 2
    assert schema_problems(api.get("rp", ns, "p")) == []
    rdb.delete("dramatiq:reviews.DQ.msgs", "dramatiq:reviews.DQ")
    api.delete("rp", ns, "p")
    wait_until(lambda: api.get("rp", ns, "p") is None, what="policy deleted")


def test_pause_annotations_hold_or_pin_the_replicas(
    operator: Any, api: Api, cluster: EmulatorThread, rdb: redis.Redis
) -> None:
    ns = "pause"
    rdb.delete("dramatiq:reviews.msgs", "dramatiq:reviews.DQ.msgs")
    api.create("deployments", ns, worker_deployment())
    api.create("rp", ns, policy("p", scaleDownStabilizationSeconds=0))
    wait_until(lambda: cond(status(api, ns, "p"), "Ready").get("status") == "True", what="Ready")

    api.patch("rp", ns, "p", {"metadata": {"annotations": {PAUSED_REPLICAS_ANNOTATION: "3"}}})
    wait_until(lambda: replicas(api, ns) == 3, what="pinned at 3")
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "ScalingActive").get("reason") == "Paused" and s,
        what="Paused",
    )
    assert cond(st, "Ready")["status"] == "True"  # a pause is a decision, not a fault

    api.patch("rp", ns, "p", {"metadata": {"annotations": {PAUSED_REPLICAS_ANNOTATION: None,
                                                          PAUSED_ANNOTATION: "true"}}})  # fmt: skip
    rdb.hset("dramatiq:reviews.msgs", mapping={f"m{i}": "{}" for i in range(8)})  # would ask for 4
    wait_until(lambda: status(api, ns, "p").get("backlog") == 8, what="backlog still read while paused")
    before = polls(cluster, ns)
    wait_until(lambda: polls(cluster, ns) >= before + 2, what="two more polls")
    assert replicas(api, ns) == 3

    api.patch("rp", ns, "p", {"metadata": {"annotations": {PAUSED_ANNOTATION: None}}})
    wait_until(lambda: replicas(api, ns) == 4, what="scaling resumes on the backlog")
    rdb.delete("dramatiq:reviews.msgs")
    api.delete("rp", ns, "p")
    wait_until(lambda: api.get("rp", ns, "p") is None, what="policy deleted")
