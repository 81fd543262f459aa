"""The review benchmark's stack: real API, real worker process, local GitHub and LLM servers, one per run.

One `Stack` serves every scenario of a `bench review` run: the worker process starts once (its shipped
defaults: only URLs, credentials and the metrics port are set), and each scenario uses its own repository
on the local GitHub server, so scenarios never see each other's pull requests. The LLM latency is changed
between scenarios on the live server (`set_latency`); the worker is not restarted, so its peak RSS
(VmHWM) is the peak over the whole run, the conservative figure.

The PR mix (`MIX`) is synthetic Python from bench/engine.py's generator (plausible service code, with a
debug print, an unused name, a TODO or a token every few functions, so the analyzers find something):
50, 200 and 1,000 changed lines over 1, 4 and 20 files, sent in the proportion 6:3:1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from pydantic import SecretStr
from sqlalchemy import select

from bench.common import BenchEnv
from bench.engine import synthetic_pr
from reviewops.db.models import Review, Tenant
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.deliveries import pr_payload
from tests.support.fake_github import FakeGitHub
from tests.support.fake_openai import FakeOpenAI
from tests.support.github_app import generate_key_pair
from tests.support.servers import free_port
from tests.support.webhooks import SECRET, signed_request

ROOT = Path(__file__).resolve().parents[1]
APP_ID = 4242
ADMIN_TOKEN = "bench-admin-token"  # a throw-away local API's admin token
SIZES = (50, 200, 1_000)  # changed lines of the mix's PR kinds
MIX = (50, 50, 200, 50, 200, 50, 1_000, 50, 200, 50)  # 6:3:1, interleaved so every prefix is mixed


@dataclass(frozen=True)
class Done:
    """A finished review: its repository, PR, installation, status and times (epoch seconds)."""

    repo: str
    number: int
    installation: int
    status: str
    started: float
    finished: float


def pr_files(changed_lines: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The local GitHub's `files` entries (one `patch` per file) and head contents of a mix PR."""
    diff, heads = synthetic_pr(changed_lines)
    files: list[dict[str, Any]] = []
    for chunk in diff.split("diff --git ")[1:]:
        lines = chunk.splitlines()
        path = lines[0].split(" b/", 1)[1]
        patch = "\n".join(lines[3:])  # from the @@ line on, as GitHub's API gives it
        files.append({"filename": path, "status": "modified", "patch": patch})
    return files, heads


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stack:
    """Everything a scenario needs; `with Stack(env) as stack:` starts it, leaving stops it."""

    def __init__(
        self, env: BenchEnv, *, github_latency: float = 0.05, sample_to: str | None = None,
        in_flight: int | None = None,
    ) -> None:  # fmt: skip
        self.env = env
        self.key, public = generate_key_pair()
        self.github = FakeGitHub(app_id=APP_ID, public_key_pem=public, latency=github_latency)
        self.llm = FakeOpenAI(mode="good", slow_seconds=0.0).start()
        self.latency = 0.0
        self.db = Database(env.database_url)
        self.redis = redis.Redis.from_url(env.redis_url)
        self.metrics_port = free_port()
        self.in_flight = in_flight  # None: the shipped default (`--in-flight N` only to explore a new one)
        # `python -m bench.review --sample OUT`: the worker under bench/worker_sampler.py (same defaults).
        self.command = (
            ["-m", "bench.worker_sampler", sample_to] if sample_to else ["-m", "reviewops", "worker"]
        )
        self.files = {size: pr_files(size) for size in SIZES}
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_log: Any = None  # the worker's own log (JSON lines), kept for reading after the run
        self._client: Any = None
        self._sent_guids = 0

    # --- lifecycle ---

    def __enter__(self) -> Stack:
        from fastapi.testclient import TestClient

        from api.main import create_app
        from reviewops.queue.broker import build_broker

        self.redis.flushall()
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql(
                "TRUNCATE reviews, findings, webhook_deliveries, tenants RESTART IDENTITY CASCADE"
            )
        env = {
            **os.environ,
            "REVIEWOPS_DATABASE_URL": self.env.database_url, "REVIEWOPS_REDIS_URL": self.env.redis_url,
            "REVIEWOPS_GITHUB_APP_ID": str(APP_ID), "REVIEWOPS_GITHUB_PRIVATE_KEY": self.key,
            "REVIEWOPS_GITHUB_API_URL": self.github.url, "REVIEWOPS_LLM_BASE_URL": self.llm.url,
            "REVIEWOPS_LLM_API_KEY": "sk-bench", "REVIEWOPS_LLM_MODEL": "bench-model",
            # The 10 s scenario must not time out: a deployment sets this to its model's real latency.
            "REVIEWOPS_LLM_TIMEOUT_SECONDS": "60",
            "REVIEWOPS_WORKER_METRICS_PORT": str(self.metrics_port), "REVIEWOPS_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        for name in ("REVIEWOPS_REVIEWS_IN_FLIGHT", "REVIEWOPS_WORKER_THREADS"):
            env.pop(name, None)  # shipped defaults, whatever the calling shell has set
        if self.in_flight is not None:
            env["REVIEWOPS_REVIEWS_IN_FLIGHT"] = str(self.in_flight)
        self.worker_log = tempfile.NamedTemporaryFile(
            prefix="reviewops-bench-worker-", suffix=".log", delete=False
        )
        self.worker = subprocess.Popen(
            [sys.executable, *self.command], cwd=ROOT, env=env,
            stdout=self.worker_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        settings = Settings(
            database_url=self.env.database_url, redis_url=self.env.redis_url,
            webhook_secrets=[SecretStr(SECRET)], admin_token=SecretStr(ADMIN_TOKEN),
        )  # fmt: skip
        self.broker = build_broker(self.env.redis_url)
        ready_by = time.time() + 90
        while not self.broker.client.zcard("dramatiq:__heartbeats__"):
            self.check_worker()
            if time.time() > ready_by:
                raise RuntimeError("the worker did not start consuming within 90 s")
            time.sleep(0.1)
        self._client = TestClient(create_app(settings, db=self.db, broker=self.broker)).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.__exit__(None, None, None)
        if self.worker is not None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(60)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.broker.close()
        if self.worker_log is not None:
            self.worker_log.close()
            Path(self.worker_log.name).unlink(missing_ok=True)
        self.github.close()
        self.llm.close()
        self.db.dispose()

    def check_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {self.worker.returncode}")

    def set_latency(self, seconds: float) -> None:
        """The LLM server's answer time from now on (`good` answers at once; `slow` waits first)."""
        self.latency = seconds
        self.llm.slow_seconds = seconds
        self.llm.mode = "slow" if seconds > 0 else "good"

    # --- pull requests and webhooks ---

    def seed(self, repo: str, count: int, *, head: str = "") -> dict[int, int]:
        """PRs 1..count in `repo`, sizes from the mix in order; returns number -> changed lines."""
        sizes: dict[int, int] = {}
        for n in range(1, count + 1):
            size = MIX[(n - 1) % len(MIX)]
            files, heads = self.files[size]
            sha = head or f"{n:040x}"
            self.github.add_pull(repo, n, head_sha=sha, files=files)
            for path, text in heads.items():
                self.github.set_file(repo, path, text, ref=sha)
            sizes[n] = size
        return sizes

    def send(self, repo: str, installation: int, number: int) -> float:
        """Post one signed `pull_request` webhook to the API; returns when it was sent."""
        payload = pr_payload(repo, installation, "opened", number, f"{number:040x}")
        body, headers = signed_request("pull_request", payload)
        sent = time.time()
        status = self._client.post("/webhooks/github", content=body, headers=headers).status_code
        if status != 202:
            raise RuntimeError(f"the API answered {status} to a webhook")
        return sent

    def done(self, repo: str) -> list[Done]:
        """The finished reviews of `repo` (any status)."""
        with self.db.session() as s:
            rows = s.execute(
                select(Review.pr_number, Tenant.installation_id, Review.status, Review.started_at,
                       Review.finished_at)
                .join(Tenant, Tenant.id == Review.tenant_id)
                .where(Review.repository == repo, Review.finished_at.is_not(None))
            ).all()  # fmt: skip
        return [
            Done(repo, n, inst, st, (started or finished).timestamp(), finished.timestamp())
            for n, inst, st, started, finished in rows
        ]

    def wait_done(
        self, repo: str, count: int, timeout: float, on_poll: Callable[[], object] | None = None
    ) -> list[Done]:
        """Until `count` reviews of `repo` finished (or `timeout`); `on_poll` runs at every look."""
        deadline = time.time() + timeout
        while True:
            if on_poll is not None:
                on_poll()
            finished = self.done(repo)
            if len(finished) >= count or time.time() > deadline:
                return finished
            self.check_worker()
            time.sleep(0.2)

    def posted_at(self, repo: str) -> dict[int, float]:
        """When the review of each PR of `repo` reached GitHub (its `POST .../reviews`)."""
        prefix = f"/repos/{repo}/pulls/"
        posted: dict[int, float] = {}
        for call in self.github.calls_to("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "POST"):
            if call.path.startswith(prefix) and call.status < 300:
                number = int(call.path[len(prefix) :].split("/")[0])
                posted.setdefault(number, call.at)
        return posted

    def writes(self, repo: str) -> int:
        """GitHub content writes made for `repo` (not the App's token requests)."""
        return sum(1 for c in self.github.content_calls() if c.path.startswith(f"/repos/{repo}/"))

    # --- what the worker reports ---

    def deferrals(self) -> float:
        """`reviewops_fair_deferrals_total` on the worker's metrics port (0 when the metric is absent)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("reviewops_fair_deferrals_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def cap(self, installation: int) -> int | None:
        """The tenant's effective `max_concurrent_reviews`, from the admin limits API (what the worker reads)."""
        with self.db.session() as s:
            tenant_id = s.execute(
                select(Tenant.id).where(Tenant.installation_id == installation)
            ).scalar_one_or_none()
        if tenant_id is None:
            return None
        answer = self._client.get(
            f"/api/v1/admin/tenants/{tenant_id}/limits", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        if answer.status_code != 200:
            return None
        return int(answer.json()["effective"]["max_concurrent_reviews"])

    def peak_rss_mb(self) -> float:
        assert self.worker is not None
        return peak_rss_mb(self.worker.pid)

    def forget_calls(self) -> None:
        """Drop the local GitHub's call log between scenarios: it answers `x-ratelimit-remaining` as 5,000
        minus the calls it has seen, and a spent primary limit would pause every installation."""
        with self.github.lock:
            self.github.calls.clear()
        with self.llm._lock:
            self.llm.requests.clear()
