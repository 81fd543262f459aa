"""The real operator while its Redis goes away and comes back: replicas held, condition set, then resumed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.reviewpolicy.emulator import TEST_AGENT, Api, EmulatorThread
from tests.reviewpolicy.test_operator_e2e import cond, policy, replicas, status, worker_deployment
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def redis_url(own_redis: RedisServer) -> str:
    """This module's operator uses a Redis of its own, so stopping it disturbs nobody else."""
    return own_redis.url


def operator_reads(cluster: EmulatorThread, ns: str) -> int:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/reviewops-worker"
    return sum(
        1
        for r in cluster.requests
        if r.method.value == "GET" and r.url.path == path and r.headers.get("User-Agent") != TEST_AGENT
    )


def failed_reconciles(operator_env: dict[str, str]) -> float:
    """`reviewops_operator_reconcile_total{result="error"}` as the operator's /metrics shows it."""
    port = operator_env["REVIEWOPS_OPERATOR_METRICS_PORT"]
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines():
        if line.startswith('reviewops_operator_reconcile_total{result="error"}'):
            return float(line.split()[-1])
    return 0.0


def test_redis_outage_holds_replicas_and_recovers(
    operator: Any, api: Api, cluster: EmulatorThread, own_redis: RedisServer, operator_env: dict[str, str]
) -> None:
    ns = "outage"
    client = redis.Redis.from_url(own_redis.url)
    client.hset("dramatiq:reviews.msgs", mapping={f"m{i}": "{}" for i in range(4)})
    api.create("deployments", ns, worker_deployment(replicas=1))
    # minReplicas 0 and no stabilization: with an honest backlog of 0 it would go to zero at once.
    api.create("rp", ns, policy("p", minReplicas=0, scaleDownStabilizationSeconds=0))
    wait_until(lambda: replicas(api, ns) == 2, what="scaled to ceil(4/2)")

    errors_before = failed_reconciles(operator_env)
    own_redis.stop()
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "ScalingActive").get("reason") == "BacklogUnavailable" and s,
        what="the condition",
    )
    assert cond(st, "ScalingActive")["status"] == "False" and cond(st, "Ready")["status"] == "False"
    assert "holding 2 replicas" in cond(st, "ScalingActive")["message"]
    # Two more failed polls (each reads the Deployment), and still 2 replicas.
    seen = cond(st, "ScalingActive")["lastTransitionTime"]
    polls = operator_reads(cluster, ns)
    wait_until(lambda: operator_reads(cluster, ns) >= polls + 2, what="two more polls")
    assert replicas(api, ns) == 2
    assert cond(status(api, ns, "p"), "ScalingActive")["lastTransitionTime"] == seen
    # A pass that cannot reach Redis is a failed reconcile (the ReviewOpsOperatorReconcileFailing alert).
    assert failed_reconciles(operator_env) >= errors_before + 2

    own_redis.start()  # an empty Redis (no persistence): the backlog is really 0 now
    wait_until(lambda: replicas(api, ns) == 0, what="scale to zero once the backlog can be read")
    st = wait_until(
        lambda: cond(s := status(api, ns, "p"), "Ready").get("status") == "True" and s, what="Ready"
    )
    assert cond(st, "ScalingActive")["status"] == "True" and st["desiredReplicas"] == 0
    client.close()
    api.delete("rp", ns, "p")
    wait_until(lambda: api.get("rp", ns, "p") is None, what="policy deleted")


def test_fallback_replicas_after_failed_polls_and_the_scaler_error_metric(
    operator: Any, api: Api, cluster: EmulatorThread, own_redis: RedisServer, operator_env: dict[str, str]
) -> None:
    ns = "fallback"
    api.create("deployments", ns, worker_deployment(replicas=1))
    api.create("rp", ns, policy("f", fallback={"failureThreshold": 2, "replicas": 4}))
    wait_until(lambda: cond(status(api, ns, "f"), "Ready").get("status") == "True", what="Ready")
    assert replicas(api, ns) == 1

    own_redis.stop()
    polls = operator_reads(cluster, ns)
    wait_until(lambda: replicas(api, ns) == 4, what="the fallback replicas")
    assert operator_reads(cluster, ns) - polls >= 2  # not before the threshold of failed polls
    st = wait_until(
        lambda: cond(s := status(api, ns, "f"), "ScalingActive").get("reason") == "FallbackReplicas" and s,
        what="the FallbackReplicas condition",
    )
    assert "fallback to 4 replicas" in cond(st, "ScalingActive")["message"]
    wait_until(
        lambda: any(e.get("reason") == "BacklogUnavailable" for e in api.list("events", ns)), what="event"
    )
    port = operator_env["REVIEWOPS_OPERATOR_METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert f'reviewops_operator_scaler_errors_total{{policy="{ns}/f"}}' in text

    own_redis.start()
    wait_until(lambda: replicas(api, ns) == 1, what="back to the backlog's count")
    api.delete("rp", ns, "f")
    wait_until(lambda: api.get("rp", ns, "f") is None, what="policy deleted")
