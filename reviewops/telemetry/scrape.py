"""The telemetry hook for gauges read at scrape time (shared state in Redis or PostgreSQL, cached briefly).

Telemetry knows nothing of what is measured: the queue package registers its depth and age gauges
(reviewops.queue.gauges), the dead-letter store its counts (reviewops.dlq.gauges). Each source is a
callable returning metric families; one that raises yields no samples this scrape (logged), never a
failed /metrics. Sources are registered by name, so a second registration replaces the first (an app
built twice in one process, as tests do).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
Source = Callable[[], Iterable[Metric]]


class ScrapeCollector(Collector):
    """Runs every registered source at scrape time, at most once per `cache_seconds`."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._sources: dict[str, Source] = {}
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def register(self, name: str, source: Source) -> None:
        with self._lock:
            self._sources[name] = source
            self._cached = None

    def _families(self) -> list[Metric]:
        families: list[Metric] = []
        for name, source in sorted(self._sources.items()):
            try:
                families.extend(source())
            except Exception as exc:
                log.warning("%s gauges unavailable: %s", name, type(exc).__name__)
        return families

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.cache_seconds:
                self._cached = (time.monotonic(), self._families())
            families = self._cached[1]
        yield from families

    def describe(self) -> Iterable[Any]:
        return []  # collected lazily: no Redis/PostgreSQL round trip at registration


_collector: ScrapeCollector | None = None
_install_lock = threading.Lock()


def register_source(name: str, source: Source) -> ScrapeCollector:
    """Add (or replace) a scrape-time source on the process-wide collector, registered once by default."""
    global _collector
    with _install_lock:
        if _collector is None:
            _collector = ScrapeCollector()
            REGISTRY.register(_collector)
        _collector.register(name, source)
        return _collector


def installed_collector() -> ScrapeCollector | None:
    """The process-wide collector, for registries other than the default one (multi-process mode)."""
    return _collector
