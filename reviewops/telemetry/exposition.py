"""Serving /metrics in one or many processes.

With PROMETHEUS_MULTIPROC_DIR set (several uvicorn workers, or several worker processes), each process
writes its samples to files there and a scrape aggregates them; the directory must be emptied when the
process group starts, or counters of dead processes would be resurrected.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


def multiprocess_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def prepare_multiprocess_dir() -> None:
    """Empty the multi-process directory; call once in the parent before any process records a sample."""
    directory = multiprocess_dir()
    if directory is None:
        return
    if directory.exists():
        for entry in directory.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def registry() -> CollectorRegistry:
    if multiprocess_dir() is None:
        return REGISTRY
    from prometheus_client import multiprocess

    from reviewops.telemetry.scrape import installed_collector

    aggregated = CollectorRegistry()
    multiprocess.MultiProcessCollector(aggregated)
    scraped = installed_collector()  # read live from Redis/PostgreSQL: nothing to aggregate
    if scraped is not None:
        aggregated.register(scraped)
    return aggregated


def render() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST
