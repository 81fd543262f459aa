"""`python -m bench.review [--quick] [--latency S ...]`: reviews per minute, end to end, one worker process.

Signed `pull_request` webhooks go through the real API (`api.main.create_app`, in this process) and the
real Redis queue to one real worker process (`reviewops worker`, its shipped defaults: the chart's and
`serve`'s REVIEWOPS_REVIEWS_IN_FLIGHT), which reviews each PR against the local GitHub server
(tests/support/fake_github.py, which also validates every request) and the local OpenAI-compatible server
(tests/support/fake_openai.py, answering after a fixed latency), on real PostgreSQL and Redis.

Reported per LLM latency: reviews/min of the worker process, webhook -> review posted p50/p99, the worker's
peak RSS (VmHWM), and GitHub content writes per review. PRs are spread over 50 installations so GitHub's
per-installation write cap (80/min, paced by ReviewOps) is not what is measured here.

Not done (issue 20 item 5, left): the asyncio baseline in the same run (see `python -m bench.waits` for
threads vs asyncio on the same HTTP calls), several tenants' fairness, and wiring into `python -m bench`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from bench.common import environment, percentile
from reviewops.db.models import Review
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.deliveries import pr_payload
from tests.support.fake_github import FakeGitHub
from tests.support.fake_openai import FakeOpenAI
from tests.support.github_app import generate_key_pair
from tests.support.webhooks import SECRET, signed_request

INSTALLATIONS = 50
PATCH_LINES = ["import os", 'print("debug")', "# TODO tidy", "def f(x):", "    return x + 1", "y = f(2)"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_latency(database_url: str, redis_url: str, latency: float, reviews: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from reviewops.queue.broker import build_broker

    key, public = generate_key_pair()
    db = Database(database_url)
    import redis

    redis.Redis.from_url(redis_url).flushall()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "TRUNCATE reviews, findings, webhook_deliveries, tenants RESTART IDENTITY CASCADE"
        )
    fake = FakeGitHub(app_id=4242, public_key_pem=public)
    llm = FakeOpenAI(mode="slow" if latency > 0 else "good", slow_seconds=latency).start()
    patch = f"@@ -0,0 +1,{len(PATCH_LINES)} @@\n" + "\n".join("+" + line for line in PATCH_LINES)
    for n in range(1, reviews + 1):
        fake.add_pull("octo/bench", n, head_sha=f"{n:040x}",
                      files=[{"filename": "app.py", "status": "added", "patch": patch}])  # fmt: skip
    env = {
        **os.environ,
        "REVIEWOPS_DATABASE_URL": database_url, "REVIEWOPS_REDIS_URL": redis_url,
        "REVIEWOPS_GITHUB_APP_ID": "4242", "REVIEWOPS_GITHUB_PRIVATE_KEY": key,
        "REVIEWOPS_GITHUB_API_URL": fake.url, "REVIEWOPS_LLM_BASE_URL": llm.url,
        "REVIEWOPS_LLM_API_KEY": "sk-bench", "REVIEWOPS_LLM_MODEL": "bench-model",
        "REVIEWOPS_LLM_TIMEOUT_SECONDS": str(max(30.0, latency * 3)),
        "REVIEWOPS_WORKER_METRICS_PORT": str(free_port()), "REVIEWOPS_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "reviewops", "worker"], cwd=ROOT, env=env)
    settings = Settings(database_url=database_url, redis_url=redis_url, webhook_secrets=[SecretStr(SECRET)])
    broker = build_broker(redis_url)
    try:
        # Timed from a started worker: its consumers have registered their heartbeat in Redis.
        ready_by = time.time() + 60
        while not broker.client.zcard("dramatiq:__heartbeats__") and time.time() < ready_by:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            time.sleep(0.1)
        with TestClient(create_app(settings, db=db, broker=broker)) as client:
            sent: dict[int, float] = {}
            for n in range(1, reviews + 1):
                payload = pr_payload("octo/bench", 1000 + n % INSTALLATIONS, "opened", n, f"{n:040x}")
                body, headers = signed_request("pull_request", payload)
                sent[n] = time.time()
                assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
            deadline = time.time() + max(120.0, reviews * (latency + 1) * 2)
            while time.time() < deadline:
                with db.session() as s:
                    done = s.execute(
                        select(func.count()).select_from(Review).where(Review.finished_at.is_not(None))
                    ).scalar_one()
                if done >= reviews:
                    break
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode}")
                time.sleep(0.2)
            rss = peak_rss_mb(worker.pid)
        with db.session() as s:
            rows = s.execute(select(Review.pr_number, Review.status, Review.finished_at)).all()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        broker.close()
        fake.close()
        llm.close()
        db.dispose()
    finished = [(n, st, f.timestamp()) for n, st, f in rows if f is not None]
    completed = [r for r in finished if r[1] == "completed"]
    latencies = [f - sent[n] for n, _, f in completed]
    span = max(f for _, _, f in finished) - min(sent.values()) if finished else float("nan")
    writes = [c for c in fake.content_calls() if "access_tokens" not in c.path]
    return {
        "latency": latency, "reviews": reviews, "completed": len(completed),
        "reviews_per_min": len(completed) / span * 60 if completed else 0.0,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "peak_rss_mb": rss,
        "writes_per_review": len(writes) / max(1, len(completed)), "violations": len(fake.violations),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few reviews at 0 s (numbers not meaningful)")
    parser.add_argument("--latency", type=float, nargs="*", default=None, help="LLM latencies (s); 0 2 10")
    parser.add_argument("--reviews", type=int, default=None, help="PRs per latency (default 100; quick 6)")
    args = parser.parse_args(argv)
    latencies = args.latency if args.latency is not None else ([0.0] if args.quick else [0.0, 2.0, 10.0])
    reviews = args.reviews or (6 if args.quick else 100)
    print("| LLM latency | reviews | completed | reviews/min | webhook->posted p50 | p99 | worker peak RSS "
          "| GitHub writes/review |\n| --- | --- | --- | --- | --- | --- | --- | --- |")  # fmt: skip
    with environment(args.quick) as env:
        for latency in latencies:
            r = one_latency(env.database_url, env.redis_url, latency, reviews)
            print(f"| {latency:g} s | {r['reviews']} | {r['completed']} | {r['reviews_per_min']:.0f} "
                  f"| {r['p50']:.1f} s | {r['p99']:.1f} s | {r['peak_rss_mb']:.0f} MB "
                  f"| {r['writes_per_review']:.2f} |", flush=True)  # fmt: skip
            if r["violations"]:
                print(f"  {r['violations']} GitHub contract violation(s)", flush=True)


if __name__ == "__main__":
    main()
