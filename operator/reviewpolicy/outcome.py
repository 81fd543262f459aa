"""What one reconcile pass decided: the status patch, the Events to post, and what the handler counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    scaled: str | None = None  # "up" | "down" when the Deployment was patched
    replay_job_created: bool = False
    errors: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)  # drift repaired in this pass, for DriftRepaired
    scaler_error: bool = False  # the backlog could not be read (reviewops_operator_scaler_errors_total)
