"""Two real operator processes against one cluster: only the Lease holder acts; when it dies, the
standby takes over after the lease and acts alone (kmock emulator, real Redis, `reviewops operator`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis

from tests.reviewpolicy.conftest import KUBECONFIG
from tests.reviewpolicy.emulator import Api, EmulatorThread
from tests.reviewpolicy.test_operator_e2e import policy, replicas, worker_deployment
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

LEASE_NS = "ops"


def start_operator(redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUBECONFIG": str(KUBECONFIG),
        "REVIEWOPS_REDIS_URL": redis_url,
        "REVIEWOPS_OPERATOR_METRICS_PORT": str(free_port()),
        "REVIEWOPS_OPERATOR_LEASE_NAMESPACE": LEASE_NS,
        "REVIEWOPS_OPERATOR_LEASE_SECONDS": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "reviewops", "operator"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def operators(cluster: EmulatorThread, redis_url: str) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    procs = [start_operator(redis_url) for _ in range(2)]
    yield {f"{socket.gethostname()}_{p.pid}": p for p in procs}
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def actors(cluster: EmulatorThread, ns: str) -> set[str]:
    """Operators (by identity) that made calls in `ns` other than leader election."""
    found = set()
    for request in cluster.requests:
        agent = request.headers.get("User-Agent") or ""
        if agent.startswith("reviewops-operator/") and f"/namespaces/{ns}/" in request.url.path:
            found.add(agent.removeprefix("reviewops-operator/"))
    return found


def holder(api: Api) -> str | None:
    response = api.http.get(f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/reviewops-operator")
    return response.json()["spec"].get("holderIdentity") if response.status_code == 200 else None


def test_only_the_lease_holder_acts_and_the_standby_takes_over(
    operators: dict[str, subprocess.Popen[bytes]], cluster: EmulatorThread, api: Api, redis_url: str
) -> None:
    ns = "leader"
    client = redis.Redis.from_url(redis_url)
    client.hset("dramatiq:reviews.msgs", mapping={f"m{i}": "{}" for i in range(8)})
    api.create("deployments", ns, worker_deployment(replicas=1))
    api.create("rp", ns, policy("p", scaleDownStabilizationSeconds=0))
    wait_until(lambda: replicas(api, ns) == 4, timeout=30, what="scaled to ceil(8/2) by the leader")
    leader = holder(api)
    assert leader in operators
    assert actors(cluster, ns) == {leader}  # the standby read and wrote nothing of the policy's

    operators[leader].send_signal(signal.SIGKILL)  # no release: the standby must wait the lease out
    operators[leader].wait(10)
    (standby,) = set(operators) - {leader}
    wait_until(lambda: holder(api) == standby, timeout=30, what="the standby holds the lease")
    client.delete("dramatiq:reviews.msgs")
    client.hset("dramatiq:reviews.msgs", mapping={f"n{i}": "{}" for i in range(4)})
    wait_until(lambda: replicas(api, ns) == 2, timeout=30, what="scaled by the new leader")
    assert actors(cluster, ns) == {leader, standby}
    client.close()
    api.delete("rp", ns, "p")
