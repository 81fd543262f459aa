"""A simulated KEDA + HPA with Kubernetes' default behaviour, the baseline of the scaling benchmark.

Modelled after the HPA controller (pkg/controller/podautoscaler) for one External metric with an
AverageValue target, fed by KEDA's redis scaler (`LLEN` of the queue list):

- KEDA reads the metric every `polling_interval` (30 s); the HPA reads KEDA's latest value on every
  sync (`sync_period`, 15 s), so a burst is seen after up to 30 s of polling plus up to 15 s of sync;
- desired = ceil(metric / target), kept at the current count within the 10 % tolerance;
- scale-up: no stabilization, at most max(4 pods, 100 %) more than at the start of the last 15 s
  (the default policies with selectPolicy Max);
- scale-down: to the highest recommendation of the last 300 s (stabilization window); the default
  scale-down policy (100 % per 15 s) never binds, so it is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TOLERANCE = 0.10


@dataclass(frozen=True)
class HpaConfig:
    min_replicas: int = 1
    max_replicas: int = 20
    target_per_replica: int = 10
    polling_interval: float = 30.0  # KEDA pollingInterval
    sync_period: float = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
    scale_up_pods: int = 4  # default scaleUp policy: 4 pods per period ...
    scale_up_percent: int = 100  # ... or 100 % per period, whichever allows more
    scale_up_period: float = 15.0
    scale_down_stabilization: float = 300.0


@dataclass
class KedaHpa:
    """Call `tick(now, llen, current)` once per simulated second; it returns the desired replicas."""

    config: HpaConfig = field(default_factory=HpaConfig)
    metric: int | None = None  # KEDA's last LLEN reading
    last_poll: float | None = None
    last_sync: float | None = None
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_events: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas added)

    def tick(self, now: float, llen: int, current: int) -> int:
        if self.last_poll is None or now - self.last_poll >= self.config.polling_interval:
            self.metric, self.last_poll = llen, now
        if self.last_sync is not None and now - self.last_sync < self.config.sync_period:
            return current
        self.last_sync = now
        assert self.metric is not None
        return self.sync(now, self.metric, current)

    def recommend(self, metric: int, current: int) -> int:
        """The raw recommendation: ceil(metric / target), or current within the tolerance."""
        target = self.config.target_per_replica
        if current > 0:
            ratio = metric / (current * target)
            if abs(ratio - 1.0) <= TOLERANCE:
                return current
        return math.ceil(metric / target)

    def sync(self, now: float, metric: int, current: int) -> int:
        """One HPA sync: recommend, stabilize, apply the scale-up rate limit, clamp."""
        cfg = self.config
        rec = self.recommend(metric, current)
        self.recommendations.append((now, rec))
        cutoff = now - cfg.scale_down_stabilization
        self.recommendations = [(t, r) for t, r in self.recommendations if t > cutoff]
        down = max(r for _, r in self.recommendations)
        up = rec  # the default scale-up stabilization window is 0 s
        if current < up:
            desired = min(up, self.scale_up_limit(now, current))
        elif current > down:
            desired = down
        else:
            desired = current
        desired = max(cfg.min_replicas, min(cfg.max_replicas, desired))
        if desired > current:
            self.scale_events.append((now, desired - current))
        return desired

    def scale_up_limit(self, now: float, current: int) -> int:
        """The most replicas the default scale-up policies allow now (selectPolicy Max)."""
        cfg = self.config
        added = sum(n for t, n in self.scale_events if t > now - cfg.scale_up_period)
        start = current - added
        by_pods = start + cfg.scale_up_pods
        by_percent = math.ceil(start * (1 + cfg.scale_up_percent / 100))
        return max(by_pods, by_percent)
