"""Fairness slots belong to a live worker: a SIGKILLed worker's slots are freed within seconds (real Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import redis

from reviewops.queue.fairness import TenantFairness, running_count
from tests.support.waiting import wait_until

TENANT = 4711

# A worker process holding its tenant's only slot, as a worker does while it runs that tenant's review.
HOLDER = textwrap.dedent(
    """
    import sys, time, redis
    from reviewops.queue.fairness import TenantFairness
    client = redis.Redis.from_url(sys.argv[1])
    fairness = TenantFairness(queues=frozenset({"reviews"}), max_concurrent=1)
    fairness.start_heartbeat(client)
    assert fairness._acquire(client, int(sys.argv[2]), fairness.owner + "|held-message")
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_a_sigkilled_workers_tenant_resumes_within_10_s(redis_client: redis.Redis, redis_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url, str(TENANT)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        other = TenantFairness(queues=frozenset({"reviews"}), max_concurrent=1)
        other.start_heartbeat(redis_client)
        # While the holder lives (its heartbeat beating), the tenant is at its cap, however long we wait.
        time.sleep(6)  # past the heartbeat's TTL: only a beating heartbeat keeps the slot
        assert not other._acquire(redis_client, TENANT, other.owner + "|waiting")
        assert running_count(redis_client, TENANT) == 1
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        # Before issue 18 the slot stayed until the killed worker's message came back (dramatiq's 60 s
        # heartbeat timeout) or its 900 s lease ran out.
        wait_until(lambda: other._acquire(redis_client, TENANT, other.owner + "|waiting"), timeout=10,
                   what="the tenant's slot freed after its worker was killed")  # fmt: skip
        other.stop_heartbeat()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
