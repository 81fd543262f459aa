"""The asyncio baseline of the review benchmark, run as its own process: `python -m bench.review_replay PLAN`.

A minimal program: one event loop, one `httpx.AsyncClient`, `in_flight` reviews at once (a semaphore),
each sending its recorded calls one after another (see bench/review_baseline.py for what is recorded and
why). It imports nothing of ReviewOps, so its peak RSS is the design's, not the project's imports.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ID_AFTER = re.compile(r"/(check-runs|reviews|comments)/(\d+)(?=/|$)")


def _rewrite(text: str, old_repo: str, new_repo: str, old_n: int, new_n: int) -> str:
    text = text.replace(f"/repos/{old_repo}/", f"/repos/{new_repo}/")
    text = re.sub(rf"/(pulls|issues)/{old_n}(?=/|$|\?)", rf"/\g<1>/{new_n}", text)
    return text.replace(f"{old_n:040x}", f"{new_n:040x}")


PROBLEMS: list[
    str
] = []  # retried connection errors and non-2xx answers: reported, so a cheap failure is seen


async def _send(client: httpx.AsyncClient, expect: int, method: str, url: str, **kw: Any) -> httpx.Response:
    """One call, resent after a connection error (the worker's clients resend those too); an answer of
    another status class than the recorded one (`expect`) is a problem."""
    for attempt in range(3):
        try:
            answer = await client.request(method, url, **kw)
        except httpx.TransportError as exc:
            PROBLEMS.append(f"{method} {url}: {type(exc).__name__}")
            if attempt == 2:
                raise
            continue
        if answer.status_code // 100 != expect // 100:
            PROBLEMS.append(f"{method} {url}: {answer.status_code}")
        return answer
    raise AssertionError("unreachable")


async def _one(client: httpx.AsyncClient, plan: dict[str, Any], number: int, size: int, token: str) -> None:
    """One review: its recorded groups of calls in order, the calls of a group side by side."""
    steps = plan["recorded"]["scripts"][str(size)]
    ids: dict[str, str] = {}
    groups: dict[int, list[dict[str, Any]]] = {}
    for step in steps:
        groups.setdefault(step["group"], []).append(step)
    for group in groups.values():
        await asyncio.gather(*(_step(client, plan, step, number, size, token, ids) for step in group))


async def _step(
    client: httpx.AsyncClient, plan: dict[str, Any], step: dict[str, Any], number: int, size: int, token: str,
    ids: dict[str, str],
) -> None:  # fmt: skip
    recorded = plan["recorded"]
    old_n = recorded["scripts"][f"{size}:number"][0]["number"]
    body = step["body"]
    if step["to"] == "llm":
        answer = await _send(client, step["status"], "POST", plan["llm"] + step["path"], json=body,
                             headers={"Authorization": "Bearer sk-bench"})  # fmt: skip
        answer.json()
        return
    path = _rewrite(step["path"], recorded["repo"], plan["repo"], old_n, number)
    path = ID_AFTER.sub(lambda m: f"/{m[1]}/{ids.get(m[1], m[2])}", path)
    data = None if body is None else _rewrite(json.dumps(body), recorded["repo"], plan["repo"], old_n, number)
    answer = await _send(
        client, step["status"], step["method"], plan["github"] + path, content=data,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json",
                 "Accept": "application/vnd.github+json"},
    )  # fmt: skip
    payload = answer.json() if answer.content else None
    if step["method"] == "POST" and isinstance(payload, dict) and "id" in payload:
        ids[path.rstrip("/").rsplit("/", 1)[1]] = str(payload["id"])


async def _replay(plan: dict[str, Any]) -> dict[str, Any]:
    gate = asyncio.Semaphore(plan["in_flight"])
    limits = httpx.Limits(
        max_connections=plan["in_flight"] + 4, max_keepalive_connections=plan["in_flight"] + 4
    )
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        took: list[float] = []  # each review's own time, from its first call to its last answer

        async def gated(number: int, size: int, token: str) -> None:
            async with gate:
                began = time.perf_counter()
                await _one(client, plan, number, size, token)
                took.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(gated(n, s, t) for n, s, t in plan["reviews"]))
        elapsed = time.perf_counter() - started
    return {"reviews": len(plan["reviews"]), "seconds": elapsed,
            "reviews_per_min": len(plan["reviews"]) / elapsed * 60, "problems": len(PROBLEMS),
            "review_p99": sorted(took)[min(len(took) - 1, round(0.99 * (len(took) - 1)))],
            "first_problems": PROBLEMS[:3],
            "peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def _peak_rss_mb() -> float:
    """VmHWM, which starts afresh at exec (ru_maxrss can keep the forking parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(_replay(plan))))


if __name__ == "__main__":
    main()
