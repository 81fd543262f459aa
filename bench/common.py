"""Shared plumbing: real PostgreSQL and Redis started like the tests start them, result rows, the table."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reviewops.db.migrate import upgrade
from tests.support.servers import RedisServer, postgres_server

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One line of the table. `ratio` is reviewops / baseline; `target` states what it must be."""

    benchmark: str
    metric: str
    reviewops: float
    baseline: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.reviewops / self.baseline  # type: ignore[operator]


@dataclass
class BenchEnv:
    database_url: str
    redis_url: str
    quick: bool
    extras: dict[str, Any] = field(default_factory=dict)


@contextmanager
def environment(quick: bool) -> Iterator[BenchEnv]:
    """PostgreSQL as production runs it (`fsync` and `synchronous_commit` on: every commit waits for the
    disk, unlike the test suite's), checked with SHOW before anything is measured; and Redis."""
    redis = RedisServer()
    redis.start()
    try:
        with postgres_server(durable=True) as url:
            durability = production_durability(url)
            if durability != {"fsync": "on", "synchronous_commit": "on"}:
                raise RuntimeError(f"the benchmark's PostgreSQL must be durable, it runs with {durability}")
            print(f"PostgreSQL: {durability}", file=sys.stderr, flush=True)
            upgrade(url)
            yield BenchEnv(
                database_url=url, redis_url=redis.url, quick=quick, extras={"postgres": durability}
            )
    finally:
        redis.close()


def production_durability(url: str) -> dict[str, str]:
    """What the running server says about `fsync` and `synchronous_commit` (SHOW)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: str(conn.execute(text(f"SHOW {name}")).scalar())
                for name in ("fsync", "synchronous_commit")
            }
    finally:
        engine.dispose()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and its children (Linux /proc), for CPU-per-request
    figures that hold up on a noisy machine better than throughput does."""
    import os

    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            continue
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Rounds:
    """One figure measured in several rounds: the median is reported, the rounds' min-max as its spread,
    so one slow spell of a shared machine does not decide a target (issue 20, fair baselines)."""

    values: list[float]

    @property
    def median(self) -> float:
        return median(self.values)

    def spread(self, fmt: str = ".3g", label: str = "rounds") -> str:
        """`median of 5 rounds, min-max 1.21-1.48` (the note a Row carries)."""
        low, high = min(self.values), max(self.values)
        return f"median of {len(self.values)} {label}, min-max {low:{fmt}}-{high:{fmt}}"


def median_round(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    """The (reviewops, baseline) figures of the round whose ratio is the median (the lower middle one for
    an even count; use an odd count): real figures of one round whose ratio is exactly the median ratio
    a target is judged on, so the table's ratio column and its verdict agree."""
    ordered = sorted(rounds, key=lambda r: r[0] / r[1])
    return ordered[(len(ordered) - 1) // 2]


def table(rows: list[Row]) -> str:
    header = ("benchmark", "metric", "ReviewOps", "baseline", "ratio", "target", "ok")
    lines = [header]
    for r in rows:
        lines.append((
            r.benchmark, f"{r.metric} ({r.unit})", f"{r.reviewops:.4g}",
            "-" if r.baseline is None else f"{r.baseline:.4g}",
            "-" if r.ratio is None else f"{r.ratio:.3f}", r.target,
            "-" if r.passed is None else ("yes" if r.passed else "NO"),
        ))  # fmt: skip
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}"}  # fmt: skip


def write_results(rows: list[Row], quick: bool, path: Path | None = None) -> Path:
    path = path or RESULTS / ("quick.json" if quick else "latest.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), "quick": quick,
            "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}  # fmt: skip
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
