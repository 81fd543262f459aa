"""The review benchmark's baseline: the same HTTP calls as a real review, from a minimal asyncio program.

`record` runs one real review of each PR size of the mix through the worker, alone, and keeps the HTTP
calls it made, in order: GitHub REST calls (method, path and query, JSON body) and LLM calls (JSON body),
from the local servers' own logs. The App's token requests are left out: the worker caches a token per
installation for an hour, so a review in a busy worker does not make one.

The replay (bench/review_replay.py, its own lean process like the worker: `python -m bench.review_replay
PLAN`) sends each
review's recorded sequence, one call after another, with `httpx.AsyncClient` and 100 reviews in flight,
to the same local GitHub and LLM servers at the same latencies, for PRs seeded with the same files. It
does nothing between the calls: no parsing, analysis, database or queue. Its reviews/min is what the
machine and the servers allow for that traffic; the worker's figure is compared with it.

Calls the worker made side by side (each server's calls sent before the first could have been answered)
are replayed side by side, the rest one after another, as recorded from a worker that has already made one
review (see `record`). Ids the local GitHub hands out (a check run's, a review's) are taken from the replay's own
answers, so a `PATCH .../check-runs/{id}` updates the check run this replay created.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.review_stack import MIX, SIZES, Stack

RECORD_REPO = "bench/record"
IN_FLIGHT = 100
RECORD_LLM_LATENCY = 1.0  # long enough to tell calls made side by side from calls made one after another


def _group(steps: list[tuple[float, dict[str, Any]]], latency: dict[str, float]) -> None:
    """Number the steps' groups: calls to one server that the worker sent before the first of them could
    have been answered (within 80 % of that server's latency) were made side by side; the replay makes
    them side by side too, so the baseline overlaps exactly what the worker overlapped."""
    group, first = -1, (0.0, "")
    for at, step in steps:
        if step["to"] != first[1] or at - first[0] >= 0.8 * latency[step["to"]]:
            group, first = group + 1, (at, step["to"])
        step["group"] = group


def record(stack: Stack) -> dict[str, Any]:
    """One review of each size through the real worker, alone, at LLM latency 1 s; the calls it made."""
    stack.set_latency(RECORD_LLM_LATENCY)
    sizes = stack.seed(RECORD_REPO, len(MIX))
    first = {size: next(n for n, s in sizes.items() if s == size) for size in SIZES}
    # One review first, not recorded: a worker's first LLM request finds the endpoint's answer form while
    # the review's other LLM requests wait for it, once per process. Recorded then, that one-off wait
    # would be replayed in every baseline review (its LLM calls in two rounds instead of one).
    warm = next(n for n in sizes if n not in first.values())
    stack.send(RECORD_REPO, 900, warm)
    if not any(d.number == warm for d in stack.wait_done(RECORD_REPO, 1, 120)):
        raise RuntimeError("the warm-up review before recording did not finish")
    scripts: dict[str, list[dict[str, Any]]] = {}
    for count, (size, number) in enumerate(first.items(), start=2):
        stack.forget_calls()
        started = time.time()
        stack.send(RECORD_REPO, 900, number)
        if not any(d.number == number for d in stack.wait_done(RECORD_REPO, count, 120)):
            raise RuntimeError(f"the {size}-line review to record did not finish")
        time.sleep(0.3)  # the last write's log entry
        steps: list[tuple[float, dict[str, Any]]] = []
        for call in list(stack.github.calls):
            if call.at >= started and not call.path.startswith("/app"):
                query = "&".join(f"{k}={v}" for k, v in call.query.items())
                path = call.path + (f"?{query}" if query else "")
                step = {
                    "to": "github",
                    "method": call.method,
                    "path": path,
                    "body": call.body,
                    "status": call.status,
                }
                steps.append((call.at, step))
        for req in list(stack.llm.requests):
            if req.at >= started:
                step = {"to": "llm", "method": "POST", "path": req.path, "body": req.body, "status": 200}
                steps.append((req.at, step))
        steps.sort(key=lambda s: s[0])
        _group(steps, {"github": stack.github.latency, "llm": stack.latency})
        scripts[str(size)] = [step for _, step in steps]
        scripts[f"{size}:number"] = [{"number": number}]
    stack.set_latency(0.0)
    return {"repo": RECORD_REPO, "scripts": scripts}


def calls_per_review(recorded: dict[str, Any]) -> dict[str, str]:
    """GitHub and LLM calls of each recorded size, and in how many rounds (side by side ones count once)."""
    out: dict[str, str] = {}
    for size in SIZES:
        steps = recorded["scripts"][str(size)]
        counts = {}
        for kind in ("github", "llm"):
            mine = [s for s in steps if s["to"] == kind]
            counts[kind] = f"{len(mine)} in {len({s['group'] for s in mine})} rounds"
        out[str(size)] = f"GitHub {counts['github']}, LLM {counts['llm']}"
    return out


def run_baseline(
    stack: Stack, recorded: dict[str, Any], repo: str, reviews: int, installations: int
) -> dict[str, Any]:
    """Seed `reviews` PRs in `repo`, hand the replay process tokens and the script; its result."""
    sizes = stack.seed(repo, reviews)
    tokens = {}
    for inst in range(installations):
        token = f"ghs_bench_baseline_{inst}"
        stack.github.tokens[token] = 5000 + inst
        tokens[inst] = token
    plan = {
        "github": stack.github.url, "llm": stack.llm.url.removesuffix("/v1"), "repo": repo,
        "recorded": recorded, "reviews": [[n, sizes[n], tokens[n % installations]] for n in sizes],
        "in_flight": IN_FLIGHT,
    }  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    out = subprocess.run(
        [sys.executable, "-m", "bench.review_replay", f.name], capture_output=True, text=True, check=False
    )
    Path(f.name).unlink(missing_ok=True)
    if out.returncode != 0:
        raise RuntimeError(f"the asyncio baseline failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout))
