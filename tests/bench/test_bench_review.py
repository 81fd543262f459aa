"""`python -m bench.review --quick` runs end to end: signed webhooks through the API, one real worker
process, the local GitHub and OpenAI-compatible servers; every review is posted in two writes.

Speed is not judged here (a quick run's numbers mean nothing on a shared machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_review_bench_posts_every_review_in_two_writes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.review", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = [line for line in proc.stdout.splitlines() if line.startswith("| 0 s |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == cells[2] == "6"  # sent, completed
    assert cells[7] == "2.00"  # GitHub content writes per review
    assert "violation" not in proc.stdout
