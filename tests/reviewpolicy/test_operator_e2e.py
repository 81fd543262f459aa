"""The real kopf operator against kmock's Kubernetes emulator and a real Redis with real dramatiq queues."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
from reviewpolicy import rbac
from reviewpolicy.handlers import FINALIZER
from reviewpolicy.replay import REPLAY_ANNOTATION

from reviewops.policy.store import TenantLimits, read_generation, read_limits, read_review_settings
from reviewops.queue.broker import build_broker, enqueue_delivery
from tests.reviewpolicy.emulator import TEST_AGENT, Api, EmulatorThread
from tests.reviewpolicy.test_crd import SCHEMA, undeclared, validate
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
                            "env": [
                                {"name": "REVIEWOPS_LOG_LEVEL", "value": "INFO"},
                                {"name": "REVIEWOPS_LLM_API_KEY", "value": "not-for-replay-pods"},
                            ],
                            "envFrom": [
                                {"secretRef": {"name": "reviewops-env"}},
                                {"configMapRef": {"name": "reviewops-config"}},
                            ],
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
                "default": {
                    "requestsPerMinute": 600,
                    "burst": 100,
                    "reviewsPerHour": 200,
                    "llmTokensPerDay": 2000000,
                },
                "tenants": [{"installationId": 1234, "requestsPerMinute": 6000, "reviewsPerHour": 2000}],
            },
            "review": {
                "analyzers": {"secrets": True, "llm": False},
                "severityThreshold": "error",
                "skipDrafts": False,
            },
        },
    }


def replicas(api: Api, ns: str) -> int:
    dep = api.get("deployments", ns, "reviewops-worker")
    assert dep is not None
    return int(dep["spec"]["replicas"])


def status(api: Api, ns: str, name: str) -> dict[str, Any]:
    obj = api.get("rp", ns, name)
    return dict((obj or {}).get("status") or {})


def schema_problems(obj: dict[str, Any] | None) -> list[str]:
    """The object as a real API server would store it: valid, and nothing the schema would prune."""
    assert obj is not None
    return validate(obj) + undeclared(SCHEMA["properties"]["status"], obj.get("status") or {}, "status")


def cond(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions") or [] if c["type"] == type_), {})


def test_scaling_follows_the_real_backlog(operator: Any, api: Api, redis_url: str, rdb: redis.Redis) -> None:
    ns = "scale"
    rdb.delete("dramatiq:reviews.msgs", "dramatiq:reviews", "dramatiq:reviews.replay.msgs")
    rdb.set("reviewops:dead-letters:pending", "3")  # maintained by the DLQ component
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
    assert st["backlog"] == 8 and st["desiredReplicas"] == 4 and st["currentReplicas"] == 4
    assert st["backlogByQueue"] == {"reviews": 7, "reviews.replay": 1} and st["deadLetters"] == 3
    assert "backlog 8" in st["lastScaleReason"] and st["lastScaleTime"].endswith("Z")
    assert st["observedGeneration"] == 1 and st["rateLimitsGeneration"] == 1
    assert [c["type"] for c in st["conditions"]] == [
        "Ready",
        "ScalingActive",
        "RateLimitsApplied",
        "ReplayInProgress",
    ]
    assert cond(st, "ReplayInProgress")["reason"] == "NoReplay"
    assert schema_problems(api.get("rp", ns, "workers")) == []
    wait_until(
        lambda: any(
            e.get("reason") == "ScaledUp" and "backlog 8" in e["message"] for e in api.list("events", ns)
        ),
        what="a ScaledUp event with the backlog numbers",
    )

    rdb.delete(
        "dramatiq:reviews.msgs", "dramatiq:reviews", "dramatiq:reviews.replay.msgs", "dramatiq:reviews.replay"
    )
    held = wait_until(
        lambda: (s := status(api, ns, "workers")).get("scaling", {}).get("downscaleTo") == 1 and s,
        what="a pending scale-down",
    )
    assert held["desiredReplicas"] == 4 and replicas(api, ns) in (4, 1)
    wait_until(lambda: replicas(api, ns) == 1, what="scale down after the window")
    api.delete("rp", ns, "workers")
    wait_until(lambda: api.get("rp", ns, "workers") is None, what="policy deleted")


FALLBACK = TenantLimits(1, 1, 1, 1)


def test_limits_and_review_settings_follow_the_spec(operator: Any, api: Api, rdb: redis.Redis) -> None:
    ns = "limits"
    api.create("deployments", ns, worker_deployment())
    api.create("rp", ns, policy("tenants"))
    st = wait_until(
        lambda: (s := status(api, ns, "tenants")).get("rateLimitsGeneration") == 1 and s, what="gen 1"
    )
    applied = cond(st, "RateLimitsApplied")
    assert applied["status"] == "True" and applied["reason"] == "Applied" and applied["lastTransitionTime"]
    assert read_generation(rdb) == 1
    assert read_limits(rdb, 1234, FALLBACK) == TenantLimits(6000, 100, 2000, 2_000_000)
    review = read_review_settings(rdb)
    assert review is not None and review.severity_threshold == "error" and review.skip_drafts is False
    assert review.analyzers == {"secrets": True, "llm": False}

    spec = policy("tenants")["spec"]
    spec["rateLimits"] = {
        "default": {"requestsPerMinute": 60, "burst": 5},
        "tenants": [{"installationId": 42, "burst": 50}],
    }
    api.patch("rp", ns, "tenants", {"spec": spec})
    wait_until(
        lambda: status(api, ns, "tenants").get("rateLimitsGeneration") == 2, what="generation 2 applied"
    )
    assert read_generation(rdb) == 2
    assert read_limits(rdb, 42, FALLBACK) == TenantLimits(60, 50, 200, 2_000_000)
    assert read_limits(rdb, 1234, FALLBACK) == TenantLimits(60, 5, 200, 2_000_000)  # its override is gone
    assert not rdb.exists("reviewops:limits:tenant:1234")
    st = status(api, ns, "tenants")
    assert st["observedGeneration"] == 2
    assert {c["type"] for c in st["conditions"]} >= {"Ready", "ScalingActive", "RateLimitsApplied"}
    assert all(c["lastTransitionTime"] and c["reason"] for c in st["conditions"])
    api.delete("rp", ns, "tenants")
    wait_until(lambda: api.get("rp", ns, "tenants") is None, what="policy deleted")


def test_missing_worker_deployment_is_a_condition(operator: Any, api: Api) -> None:
    ns = "nodeploy"
    api.create("rp", ns, policy("lonely"))
    st = wait_until(lambda: (s := status(api, ns, "lonely")).get("conditions") and s, what="conditions")
    st = wait_until(
        lambda: cond(s := status(api, ns, "lonely"), "ScalingActive").get("reason") and s, what="x"
    )
    assert cond(st, "ScalingActive")["reason"] == "DeploymentNotFound"
    assert cond(st, "Ready")["status"] == "False" and "reviewops-worker" in cond(st, "Ready")["message"]
    api.delete("rp", ns, "lonely")
    wait_until(lambda: api.get("rp", ns, "lonely") is None, what="policy deleted")


def test_replay_jobs_on_request_and_schedule(operator: Any, api: Api, rdb: redis.Redis) -> None:
    ns = "replay"
    api.create("deployments", ns, worker_deployment())
    body = policy("dlq")
    body["spec"]["deadLetters"] = {
        "replay": {
            "errorTypes": ["transient"],
            "olderThan": "10m",
            "maxMessages": 500,
            "ratePerSecond": 50,
        }
    }
    created = api.create("rp", ns, body)
    wait_until(lambda: cond(status(api, ns, "dlq"), "Ready").get("status") == "True", what="Ready")
    assert api.list("jobs", ns) == [] and api.list("cronjobs", ns) == []

    api.patch("rp", ns, "dlq", {"metadata": {"annotations": {REPLAY_ANNOTATION: "2026-01-01T00:00:00Z"}}})
    jobs = wait_until(lambda: api.list("jobs", ns), what="a replay job")
    job = jobs[0]
    name = job["metadata"]["name"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [
        "reviewops", "dlq", "replay", "--error-type", "transient",
        "--older-than", "10m", "--limit", "500", "--rate", "50/s", "--result-key", name,
    ]  # fmt: skip
    assert container["image"] == "ghcr.io/reviewops/reviewops:1.2.3"
    assert container["env"] == [{"name": "REVIEWOPS_LOG_LEVEL", "value": "INFO"}]  # no LLM key
    assert container["envFrom"] == [{"configMapRef": {"name": "reviewops-config"}}]  # no Secret wholesale
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert job["spec"]["template"]["spec"]["enableServiceLinks"] is False
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "reviewops.dev/v1alpha1", "kind": "ReviewPolicy", "name": "dlq",
        "uid": created["metadata"]["uid"], "controller": True,
    }]  # fmt: skip
    st = wait_until(lambda: (s := status(api, ns, "dlq")).get("lastReplay") and s, what="lastReplay")
    assert st["lastReplay"]["jobName"] == name and st["lastReplay"]["state"] == "Running"
    assert cond(st, "ReplayInProgress")["status"] == "True"
    assert st["replay"]["handledRequests"] == ["2026-01-01T00:00:00Z"]

    # The command's result lands in Redis: the operator reports it.
    rdb.set(
        f"reviewops:replay-results:{name}",
        '{"replayed": 7, "skipped": 2, "failed": 1, '
        '"started_at": "2026-01-01T00:00:01Z", "finished_at": "2026-01-01T00:00:09Z"}',
    )
    st = wait_until(
        lambda: (s := status(api, ns, "dlq"))["lastReplay"].get("replayed") == 7 and s, what="result"
    )
    assert st["lastReplay"] | {"skipped": 2, "failed": 1, "state": "Succeeded"} == st["lastReplay"]
    assert st["lastReplay"]["finishTime"] == "2026-01-01T00:00:09Z"
    assert cond(st, "ReplayInProgress")["status"] == "False"
    assert len(api.list("jobs", ns)) == 1  # the same timestamp never starts a second Job
    assert schema_problems(api.get("rp", ns, "dlq")) == []

    api.patch("rp", ns, "dlq", {"metadata": {"annotations": {REPLAY_ANNOTATION: "2026-01-02T00:00:00Z"}}})
    wait_until(lambda: len(api.list("jobs", ns)) == 2, what="a second job for a new timestamp")

    body["spec"]["deadLetters"]["replay"]["schedule"] = "*/30 * * * *"
    api.patch("rp", ns, "dlq", {"spec": body["spec"]})
    cronjobs = wait_until(lambda: api.list("cronjobs", ns), what="the replay cronjob")
    assert cronjobs[0]["spec"]["schedule"] == "*/30 * * * *"
    command = cronjobs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-2:] == ["--result-key", "$(REVIEWOPS_REPLAY_JOB_NAME)"]
    assert cronjobs[0]["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    for reason in ("ReplayStarted", "ReplayScheduled"):  # kopf posts Events in the background
        wait_until(lambda r=reason: any(e.get("reason") == r for e in api.list("events", ns)), what=reason)

    body["spec"]["deadLetters"]["replay"]["schedule"] = "@hourly"
    api.patch("rp", ns, "dlq", {"spec": body["spec"]})
    wait_until(lambda: api.list("cronjobs", ns)[0]["spec"]["schedule"] == "@hourly", what="schedule updated")
    body["spec"]["deadLetters"]["replay"]["schedule"] = None  # merge-patch null: the field is removed
    api.patch("rp", ns, "dlq", {"spec": body["spec"]})
    wait_until(lambda: api.list("cronjobs", ns) == [], what="cronjob removed with the schedule")

    live = api.get("rp", ns, "dlq")
    assert live is not None and not live["metadata"].get("finalizers"), "no finalizer to wait on"
    api.delete("rp", ns, "dlq")
    assert api.get("rp", ns, "dlq") is None, "deleted at once"
    assert api.collect_garbage(ns) == 2  # both Jobs pointed at the deleted policy
    assert api.list("jobs", ns) == [] and api.list("cronjobs", ns) == []


def test_a_finalizer_left_by_an_older_operator_is_removed(operator: Any, api: Api) -> None:
    """Policies made under the operator version that used a finalizer become deletable without it."""
    ns = "migrate"
    body = policy("old") | {"metadata": {"name": "old", "finalizers": [FINALIZER]}}
    api.create("rp", ns, body)
    wait_until(
        lambda: not ((api.get("rp", ns, "old") or {})["metadata"].get("finalizers")), what="finalizer gone"
    )
    api.delete("rp", ns, "old")
    assert api.get("rp", ns, "old") is None


def test_metrics_and_liveness(operator: Any, operator_env: dict[str, str]) -> None:
    port = operator_env["REVIEWOPS_OPERATOR_METRICS_PORT"]
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "healthy"
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'reviewops_operator_reconcile_total{result="success"}' in text
    assert 'reviewops_operator_scale_events_total{direction="up"}' in text
    assert 'reviewops_operator_scale_events_total{direction="down"}' in text
    # Two Jobs in this module; the counter is per process, and other modules' operators may have run before.
    (jobs,) = [line for line in text.splitlines() if line.startswith("reviewops_operator_replay_jobs_total ")]
    assert float(jobs.split()[-1]) >= 2
    assert "# TYPE reviewops_operator_current_replicas gauge" in text
    assert "# TYPE reviewops_operator_max_replicas gauge" in text


def test_every_request_of_the_operator_is_allowed_by_its_rbac(operator: Any, cluster: EmulatorThread) -> None:
    """Runs last in this module: by now the operator has done everything it ever does."""
    used = set()
    for request in cluster.requests:
        if request.headers.get("User-Agent") == TEST_AGENT or request.resource is None:
            continue  # the tests' own calls; discovery (non-resource URLs, open to every account)
        if not request.resource.plural:
            continue
        resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
        verb = {
            "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete",
        }.get(request.method.value) or (
            "get" if request.name else ("watch" if request.params.get("watch") in ("true", "1") else "list")
        )  # fmt: skip
        used.add((request.resource.group or "", resource, verb))
    missing = {u for u in used if not rbac.allows(rbac.RBAC_RULES, *u)}
    assert not missing, missing
    granted = {
        (group, resource, verb)
        for rule in rbac.RBAC_RULES
        for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]
    }  # fmt: skip
    assert granted == used, f"granted but never used: {granted - used}"
