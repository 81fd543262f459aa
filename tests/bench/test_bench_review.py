"""`python -m bench.review --quick` runs every scenario end to end: signed webhooks through the API, one
real worker process, the local GitHub and OpenAI-compatible servers, the asyncio baseline replaying the
recorded calls; every review is posted in two writes and no call breaks GitHub's contract.

Speed is not judged here (a quick run's numbers mean nothing on a shared machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS = (
    "reviews/min per worker at LLM 0 s",
    "webhook->posted p99 at LLM 0 s, 50 % load",
    "worker peak RSS",
    "GitHub writes per review",
    "one tenant's burst: re-queues per message",
    "one tenant's burst: drain time",
    "two tenants bursting: smaller share",
)


def test_quick_review_bench_runs_every_scenario_and_posts_each_review_in_two_writes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.review", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {
        line.split("|")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("review ")
    }
    assert {name.rsplit(" (", 1)[0] for name in rows} >= set(METRICS)
    writes = next(line for name, line in rows.items() if name.startswith("GitHub writes per review"))
    assert writes.split("|")[2].strip() == "2"
    capacity = next(line for name, line in rows.items() if name.startswith("reviews/min per worker"))
    assert float(capacity.split("|")[3]) > 0  # the asyncio baseline ran and finished its reviews
    assert "violation" not in proc.stdout
    assert "baseline problems" not in proc.stdout  # the replay got the answers the worker got
