"""What the review pipeline needs from the review engine (reviewops.review), injected so it can be swapped.

The engine half lives in reviewops.review (diff parsing, repo config, analyzers, engine); the pipeline only
depends on the data contract in reviewops.review.model plus these three callables.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reviewops.review.model import AnalysisContext, ChangedFile, Finding, LLMUsage, RepoConfig


class EngineResult(Protocol):
    """The shape of reviewops.review.engine.ReviewResult the pipeline relies on."""

    findings: Sequence[Finding]
    notes: Sequence[str]
    usage: LLMUsage
    timings: dict[str, float]
    qa_checklist: Any


Engine = Callable[[AnalysisContext], EngineResult]
PatchParser = Callable[[str, "str | None", str, "str | None"], ChangedFile]
ConfigParser = Callable[[str], RepoConfig]


@dataclass(frozen=True)
class ReviewDeps:
    engine: Engine
    parse_patch: PatchParser
    parse_config: ConfigParser


def default_deps() -> ReviewDeps:
    """The real engine from reviewops.review. Imported lazily: that half is developed separately and
    a worker without it must still start (reviews then fail permanently with a clear message)."""
    try:
        diff = importlib.import_module("reviewops.review.diff")
        config = importlib.import_module("reviewops.review.config")
        engine = importlib.import_module("reviewops.review.engine")
        analyzers = importlib.import_module("reviewops.review.analyzers")
    except ImportError as exc:
        raise RuntimeError(f"the review engine is not installed ({exc})") from exc

    def run(ctx: AnalysisContext) -> EngineResult:
        enabled = ctx.extras.get("enabled_analyzers")
        built = analyzers.build_analyzers(enabled, ctx.config, ctx.extras.get("llm"))
        result: EngineResult = engine.run_review(ctx, built)
        return result

    return ReviewDeps(engine=run, parse_patch=diff.parse_patch, parse_config=config.parse_repo_config)
