"""Review engine without the LLM: secrets, python-lint (ruff) and hygiene on synthetic Python diffs.

Diffs of 100, 1,000 and 10,000 changed lines, spread over files of 50 changed lines each (40 added,
10 removed, inside a 94-line head file), parsed with the real unified-diff parser. Reported: ms per
1,000 changed lines for each size, and the linearity check (largest / smallest per-line time < 2).
The baseline of every size row is the 100-line size's per-1,000-lines time.
"""

from __future__ import annotations

import sys
import time

from bench.common import BenchEnv, Rounds, Row
from reviewops.analysis.analyzers import build_analyzers
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.engine import run_review
from reviewops.analysis.model import AnalysisContext, RepoConfig

SIZES = (100, 1_000, 10_000)
ADDED_PER_FILE = 40
REMOVED_PER_FILE = 10
CHANGED_PER_FILE = ADDED_PER_FILE + REMOVED_PER_FILE
PREFIX_LINES = 24
SUFFIX_LINES = 30
ENABLED = {"secrets": True, "python-lint": True, "hygiene": True, "llm": False, "qa-checklist": False}
# Issue 16's linters on top (each runs only on its own file kinds): their cost is measured separately.
LINTERS = ("shellcheck", "hadolint", "actionlint", "yamllint")
ALL_DETERMINISTIC = {**{k: False for k in LINTERS}, **ENABLED} | {k: True for k in LINTERS}


def _function(n: int, lines: int) -> list[str]:
    """`lines` lines of plausible service code; every few functions carry something to find."""
    body = [
        f"def handle_{n}(request: dict[str, object], retries: int = 3) -> dict[str, object]:",
        f'    """Validate request {n} and build the response."""',
        "    payload = dict(request)",
        "    for attempt in range(retries):",
        "        if payload.get('status') == 'ok':",
        "            break",
        "        payload['attempt'] = attempt",
    ]
    if n % 7 == 0:
        body.append("    print(payload)  # debug")
    if n % 11 == 0:
        body.append("    unused = os.path.join('a', 'b')")
    if n % 13 == 0:
        body.append("    # TODO: handle the timeout case")
    if n % 97 == 0:
        body.append("    token = 'ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'")
    while len(body) < lines - 1:
        body.append(f"    payload['k{len(body)}'] = len(payload) + {n}")
    body.append("    return payload")
    return body[:lines]


def _block(start: int, lines: int) -> list[str]:
    """Whole 10-line functions (9 lines and a blank), so every block is valid Python on its own."""
    out: list[str] = []
    n = start
    while len(out) < lines:
        out.extend([*_function(n, 9), ""])
        n += 1
    return out[:lines]


def synthetic_pr(changed_lines: int) -> tuple[str, dict[str, str]]:
    """A unified diff with `changed_lines` changed lines, and the head contents of its files."""
    files = max(1, changed_lines // CHANGED_PER_FILE)
    diff: list[str] = []
    heads: dict[str, str] = {}
    for i in range(files):
        path = f"service/module_{i:04d}.py"
        prefix = ["import os", "import json", "", "", *_block(i * 1000, PREFIX_LINES - 4)]
        removed = _block(i * 1000 + 100, REMOVED_PER_FILE)
        added = _block(i * 1000 + 200, ADDED_PER_FILE)
        suffix = _block(i * 1000 + 300, SUFFIX_LINES)
        head = prefix + added + suffix
        heads[path] = "\n".join(head) + "\n"
        # One hunk: 3 context lines, the removed block, the added block, 3 context lines.
        old_start = PREFIX_LINES - 2
        old_len = 3 + REMOVED_PER_FILE + 3
        new_len = 3 + ADDED_PER_FILE + 3
        diff += [
            f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}",
            f"@@ -{old_start},{old_len} +{old_start},{new_len} @@",
            *(" " + line for line in prefix[-3:]), *("-" + line for line in removed),
            *("+" + line for line in added), *(" " + line for line in suffix[:3]),
        ]  # fmt: skip
    return "\n".join(diff) + "\n", heads


def _other_kind(kind: str, n: int, lines: int) -> tuple[str, list[str], list[str]]:
    """(path, base lines, head lines) of a shell script, Dockerfile, workflow or YAML file."""
    if kind == "sh":
        body = [f'echo "step {i}" && test -d "$DIR/{i}" || mkdir -p "$DIR/{i}"' for i in range(lines)]
        head = ["#!/bin/sh", "set -eu", *body, "cp $1 /tmp/out"]
        return f"scripts/task_{n}.sh", head[:3], head
    if kind == "docker":
        body = [f"RUN echo step-{i} > /tmp/step-{i}" for i in range(lines)]
        head = ["FROM debian:12", *body, 'CMD ["sh"]']
        return f"images/app{n}/Dockerfile", head[:2], head
    if kind == "workflow":
        body = [f"      - run: echo step {i}" for i in range(lines)]
        head = ["on: push", "jobs:", "  build:", "    runs-on: ubuntu-latest", "    steps:", *body,
                "      - run: echo ${{ github.event.issue.title }}"]  # fmt: skip
        return f".github/workflows/ci_{n}.yml", head[:6], head
    body = [f"key_{i}: value {i}" for i in range(lines)]
    return f"config/values_{n}.yaml", ["---", *body[:2]], ["---", *body]


def mixed_pr(changed_lines: int) -> tuple[str, dict[str, str], dict[str, str]]:
    """A PR of `changed_lines`: 80 % Python as synthetic_pr, 5 % each shell, Dockerfile, workflow, YAML."""
    text, heads = synthetic_pr(changed_lines * 8 // 10)
    bases: dict[str, str] = {".yamllint": "extends: relaxed\n"}
    diff = [text.rstrip("\n")]
    share = changed_lines // 20
    for n in range(max(1, share // 50)):
        for kind in ("sh", "docker", "workflow", "yaml"):
            path, base, head = _other_kind(kind, n, 50)
            heads[path] = "\n".join(head) + "\n"
            bases[path] = "\n".join(base) + "\n"
            added = head[len(base) :]
            diff += [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}",
                     f"@@ -1,{len(base)} +1,{len(head)} @@", *(" " + x for x in base),
                     *("+" + x for x in added)]  # fmt: skip
    return "\n".join(diff) + "\n", heads, bases


def time_review(
    changed_lines: int, repeats: int, enabled: dict[str, bool] | None = None, mixed: bool = False
) -> tuple[Rounds, int, dict[str, float]]:
    """Seconds of parse + run_review for one synthetic PR in each repeat (the median is the figure, the
    spread says how steady it was), the findings, per-analyzer seconds."""
    if mixed:
        text, heads, bases = mixed_pr(changed_lines)
    else:
        (text, heads), bases = synthetic_pr(changed_lines), {}
    analyzers = build_analyzers(enabled or ENABLED, RepoConfig(), None)
    times: list[float] = []
    findings = 0
    timings: dict[str, float] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        files = parse_unified_diff(text)
        ctx = AnalysisContext(files=files, title="bench", read_head=heads.get,
                              read_base=bases.get if mixed else None)  # fmt: skip
        result = run_review(ctx, analyzers)
        times.append(time.perf_counter() - started)
        findings = len(result.findings)
        timings = result.timings
    return Rounds(times), findings, timings


def linter_cost(repeats: int) -> list[Row]:
    """The 1,000-line PR (mixed file kinds, base known) with and without issue 16's linters."""
    without_runs, _, _ = time_review(1_000, repeats, ENABLED, mixed=True)
    with_runs, findings, timings = time_review(1_000, repeats, ALL_DETERMINISTIC, mixed=True)
    with_all, without = with_runs.median, without_runs.median
    per = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sorted(timings.items()))
    ms = Rounds([t * 1000 for t in with_runs.values])
    return [Row(
        "engine", "1,000-line mixed PR: with linters / without", with_all * 1000, without * 1000, "ms",
        target="<= 2x", passed=with_all <= 2 * without,
        notes=f"with linters {ms.spread('.0f', 'runs')} ms; {findings} findings; per analyzer: {per}",
    )]  # fmt: skip


def run(env: BenchEnv) -> list[Row]:
    repeats = {100: 3, 1_000: 1, 10_000: 1} if env.quick else {100: 30, 1_000: 10, 10_000: 3}
    time_review(100, 1)  # warm-up: imports, regex compilation, ruff binary lookup
    per_k: dict[int, float] = {}
    runs: dict[int, Rounds] = {}
    rows: list[Row] = []
    for size in SIZES:
        runs[size], findings, _ = time_review(size, repeats[size])
        seconds = runs[size].median
        per_k[size] = seconds * 1000 / size * 1000
        rows.append(Row(
            "engine", f"{size} changed lines: time per 1,000 lines", per_k[size], None, "ms",
            notes=f"{size // CHANGED_PER_FILE} files, {findings} findings, total {seconds * 1000:.0f} ms",
        ))  # fmt: skip
    for row in rows:
        row.baseline = per_k[SIZES[0]]
    # Linear means the per-line time does not grow with the diff. A fixed cost per review (ruff's start-up,
    # now paid once per side instead of once per file) makes small diffs dearer per line, which is not a
    # scaling problem: the target compares the largest diff's per-line time with the smallest's.
    grown, first = per_k[SIZES[-1]], per_k[SIZES[0]]
    rows.append(Row(
        "engine", "linearity: per-line time at 10,000 / at 100 lines", grown, first, "ms/1k lines",
        target="< 2x", passed=grown / first < 2,
        notes=f"max / min over the three sizes: {max(per_k.values()) / min(per_k.values()):.2f}; medians "
              f"of runs, 10,000 lines {runs[SIZES[-1]].spread('.2f', 'runs')} s, 100 lines "
              f"{runs[SIZES[0]].spread('.3f', 'runs')} s",
    ))  # fmt: skip
    rows.extend(linter_cost(1 if env.quick else 5))
    return rows


if __name__ == "__main__":
    from bench.__main__ import main

    main(["engine", *sys.argv[1:]])
