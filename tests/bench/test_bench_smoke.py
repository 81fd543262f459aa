"""`python -m bench scaling engine --quick` completes, prints the table and writes quick.json.

Speed is not judged here (the numbers of a quick run mean nothing); only that the harness works end to
end on real PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_runs_and_writes_results() -> None:
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "scaling", "engine", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "benchmark | metric" in proc.stdout
    assert "linearity: per-line time at 10,000 / at 100 lines" in proc.stdout
    results = ROOT / "bench" / "results" / "quick.json"
    assert results.stat().st_mtime >= started
    data = json.loads(results.read_text())
    assert data["quick"] is True and data["machine"]["cpus"]
    benchmarks = {row["benchmark"] for row in data["rows"]}
    assert benchmarks == {"scaling", "engine"}
    assert all(row["reviewops"] is not None for row in data["rows"])


def test_a_full_length_subset_does_not_replace_the_readme_results() -> None:
    """`python -m bench scaling` (not --quick) writes partial.json; latest.json keeps the full run's rows."""
    latest = ROOT / "bench" / "results" / "latest.json"
    before = latest.read_bytes()
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "scaling"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert latest.read_bytes() == before
    partial = ROOT / "bench" / "results" / "partial.json"
    assert partial.stat().st_mtime >= started
    assert {row["benchmark"] for row in json.loads(partial.read_text())["rows"]} == {"scaling"}
