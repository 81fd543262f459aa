"""Invalid-signature bursts: one log line and one audit row per source and window, not one per request.

A misconfigured secret or a scanner can send thousands of bad requests; logging each would flood the logs
and the database. Memory stays bounded: at most `max_sources` sources are tracked (oldest dropped).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Window:
    started: float
    failures: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class BurstReport:
    source: str
    reason: str
    suppressed_since_last: int  # failures from this source in its previous window that were not logged
    previous_reasons: dict[str, int]


class SignatureFailureTracker:
    def __init__(self, window_seconds: float = 60.0, max_sources: int = 1024) -> None:
        self.window = window_seconds
        self.max_sources = max_sources
        self._sources: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, source: str, reason: str, now: float | None = None) -> BurstReport | None:
        """Count a failure; return a report when this one should be logged and audited."""
        now = time.monotonic() if now is None else now
        with self._lock:
            current = self._sources.get(source)
            if current is not None and now - current.started < self.window:
                current.failures += 1
                current.reasons[reason] += 1
                return None
            previous = current
            window = _Window(started=now, failures=1, reasons=Counter({reason: 1}))
            self._sources[source] = window
            self._sources.move_to_end(source)
            while len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
        return BurstReport(
            source=source,
            reason=reason,
            suppressed_since_last=(previous.failures - 1) if previous else 0,
            previous_reasons=dict(previous.reasons) if previous else {},
        )
