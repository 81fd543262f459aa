"""What the review pipeline needs from the review engine (reviewops.analysis), injected so it can be swapped.

The engine half lives in reviewops.analysis (diff parsing, repo config, analyzers, engine); the pipeline only
depends on the data contract in reviewops.analysis.model plus these three callables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reviewops.analysis.analyzers import build_analyzers
from reviewops.analysis.config import parse_repo_config
from reviewops.analysis.diff import from_github_file
from reviewops.analysis.engine import run_review
from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, LLMUsage, RepoConfig


class EngineResult(Protocol):
    """The shape of reviewops.analysis.engine.ReviewResult the pipeline relies on."""

    @property
    def findings(self) -> Sequence[Finding]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def usage(self) -> LLMUsage: ...
    @property
    def timings(self) -> dict[str, float]: ...
    @property
    def qa_checklist(self) -> Any: ...


Engine = Callable[[AnalysisContext], EngineResult]
# Turns one entry of GitHub's "list pull request files" answer into a ChangedFile (no patch: not analyzed).
FileParser = Callable[[Mapping[str, Any]], ChangedFile]
ConfigParser = Callable[[str], RepoConfig]


@dataclass(frozen=True)
class ReviewDeps:
    engine: Engine
    parse_file: FileParser
    parse_config: ConfigParser


def default_deps() -> ReviewDeps:
    """The real engine: analyzers chosen by policy, tenant flags and `.reviewops.yaml`, then run_review."""

    def run(ctx: AnalysisContext) -> EngineResult:
        built = build_analyzers(ctx.enabled_analyzers, ctx.config, ctx.llm)
        return run_review(ctx, built)

    return ReviewDeps(engine=run, parse_file=from_github_file, parse_config=parse_repo_config)
