"""Fault figures: what a Redis outage, a PostgreSQL outage and a SIGKILLed worker cost, delivery by delivery.

`python -m bench.faults [--seconds 20] [--rate 25]` starts throw-away PostgreSQL and Redis servers, one
`reviewops api` and one `reviewops worker` process, and for each fault sends signed `ping` deliveries at a
steady rate while the fault happens in the middle of the run:

- `redis-down`: Redis stopped for 5 s, then started again empty (its queued messages are gone);
- `postgres-down`: PostgreSQL stopped (immediate) for 5 s, then started again;
- `worker-sigkill`: the worker killed with SIGKILL, a new one started 1 s later.

After the sending it waits for the deliveries to settle, then counts per fault: sent; acknowledged (answered
2xx: GitHub will not redeliver those by itself); stored (rows); processed; lost = acknowledged but not
processed when the run ends. Refused deliveries (503 during an outage) are GitHub's to redeliver.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from reviewops.db.migrate import upgrade
from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.signatures import sign
from tests.support.servers import PostgresServer, RedisServer, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "fault-secret"
BODY = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'


class Stack:
    """PostgreSQL, Redis, one API process and one worker process."""

    def __init__(self) -> None:
        self.postgres, self.redis = PostgresServer(), RedisServer()
        self.postgres.start()
        self.redis.start()
        upgrade(self.postgres.url)
        self.port = free_port()
        self.env = {**os.environ, "REVIEWOPS_DATABASE_URL": self.postgres.url, "REVIEWOPS_REDIS_URL": self.redis.url,
                    "REVIEWOPS_WEBHOOK_SECRETS": SECRET, "REVIEWOPS_LOG_LEVEL": "WARNING",
                    "REVIEWOPS_PORT": str(self.port), "REVIEWOPS_OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
                    "REVIEWOPS_OUTBOX_RECEIVED_AFTER_SECONDS": "2"}  # fmt: skip
        self.api = self._start("api")
        self.worker = self._start("worker")
        wait_for_port(self.port, timeout=30)

    def _start(self, command: str) -> subprocess.Popen[bytes]:
        env = {**self.env, "REVIEWOPS_WORKER_METRICS_PORT": str(free_port())}
        return subprocess.Popen([sys.executable, "-m", "reviewops", command], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def close(self) -> None:
        for proc in (self.api, self.worker):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.postgres.close()
        self.redis.close()


def inject(stack: Stack, fault: str) -> None:
    if fault == "redis-down":
        stack.redis.stop()
        time.sleep(5)
        stack.redis.start()
    elif fault == "postgres-down":
        stack.postgres.stop()
        time.sleep(5)
        stack.postgres.start()
    elif fault == "worker-sigkill":
        os.kill(stack.worker.pid, signal.SIGKILL)
        stack.worker.wait()
        time.sleep(1)
        stack.worker = stack._start("worker")


def send(stack: Stack, seconds: float, rate: float, acknowledged: list[str], sent: list[str]) -> None:
    with httpx.Client(timeout=15) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            guid = str(uuid.uuid4())
            sent.append(guid)
            headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": guid, "Content-Type": "application/json",
                       "X-Hub-Signature-256": sign(SECRET, BODY)}  # fmt: skip
            try:
                if client.post(
                    f"http://127.0.0.1:{stack.port}/webhooks/github", content=BODY, headers=headers
                ).is_success:
                    acknowledged.append(guid)
            except httpx.HTTPError:
                pass
            time.sleep(1 / rate)


def counts(stack: Stack, guids: set[str]) -> tuple[int, int]:
    db = Database(stack.postgres.url)
    try:
        with db.session() as session:
            rows = session.execute(select(WebhookDelivery.delivery_guid, WebhookDelivery.status)).all()
    finally:
        db.dispose()
    mine = [(g, s) for g, s in rows if g in guids]
    return len(mine), sum(1 for _, s in mine if s == "processed")


def run(fault: str, seconds: float, rate: float, settle: float) -> str:
    stack = Stack()
    try:
        sent: list[str] = []
        acknowledged: list[str] = []
        sender = threading.Thread(target=send, args=(stack, seconds, rate, acknowledged, sent))
        sender.start()
        time.sleep(seconds / 3)
        inject(stack, fault)
        sender.join()
        deadline = time.monotonic() + settle
        stored = processed = 0
        while time.monotonic() < deadline:
            stored, processed = counts(stack, set(sent))
            if processed >= len(acknowledged) and set(acknowledged):
                break
            time.sleep(2)
        stored, processed_acked = counts(stack, set(acknowledged))
        lost = len(acknowledged) - processed_acked
        return f"| {fault} | {len(sent)} | {len(acknowledged)} | {stored} | {processed} | {lost} |"
    finally:
        stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20, help="how long deliveries are sent per fault")
    parser.add_argument("--rate", type=float, default=25, help="deliveries sent per second")
    parser.add_argument("--settle", type=float, default=150, help="longest wait for the deliveries to settle")
    parser.add_argument("faults", nargs="*", default=["redis-down", "postgres-down", "worker-sigkill"])
    args = parser.parse_args()
    print("| fault | sent | acknowledged | stored | processed | lost |")
    print("| --- | --- | --- | --- | --- | --- |")
    for fault in args.faults:
        print(run(fault, args.seconds, args.rate, args.settle), flush=True)


if __name__ == "__main__":
    main()
