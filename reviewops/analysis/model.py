"""Data types shared by the analyzers (reviewops.analysis) and the GitHub pipeline that feeds and posts them.

This module is the contract: analyzers consume `AnalysisContext` and return `Finding`s; the pipeline builds
the context from GitHub (or a local diff for `reviewops review`) and posts/stores what comes back.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reviewops.analysis.llm.settings import LLMSettings


class Severity(enum.IntEnum):
    """Ordered so thresholds compare: INFO < WARNING < ERROR."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r}; use info, warning or error") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Hunk:
    """One hunk of a unified diff, with the new-side line numbers of its added lines."""

    old_start: int
    old_length: int
    new_start: int
    new_length: int
    added: dict[int, str] = field(default_factory=dict)  # new line number -> text (no '+', no newline)
    removed: dict[int, str] = field(default_factory=dict)  # old line number -> text
    context: dict[int, str] = field(default_factory=dict)  # new line number -> text


@dataclass(frozen=True)
class ChangedFile:
    """A file of the pull request (or local diff). `patch` is None for binary or too-large files."""

    path: str
    status: str  # added | modified | removed | renamed | copied | changed | unchanged
    previous_path: str | None = None
    patch: str | None = None
    hunks: tuple[Hunk, ...] = ()
    additions: int = 0
    deletions: int = 0

    @property
    def analyzable(self) -> bool:
        return self.patch is not None and self.status != "removed"

    def added_lines(self) -> dict[int, str]:
        lines: dict[int, str] = {}
        for hunk in self.hunks:
            lines.update(hunk.added)
        return lines

    def commentable_lines(self) -> set[int]:
        """New-side lines GitHub accepts review comments on: added and context lines of the hunks."""
        lines: set[int] = set()
        for hunk in self.hunks:
            lines.update(hunk.added)
            lines.update(hunk.context)
        return lines


@dataclass(frozen=True)
class Finding:
    analyzer: str
    rule_id: str
    path: str
    start_line: int
    end_line: int
    severity: Severity
    message: str
    suggestion: str | None = None  # replacement text for lines start..end (a ```suggestion block)
    side: str = "RIGHT"
    line_content: str = ""  # the text of the flagged line(s), used for the fingerprint

    @property
    def fingerprint(self) -> str:
        """Stable across pushes: rule + path + normalized line content, never the line number."""
        normalized = re.sub(r"\s+", " ", self.line_content).strip()
        raw = f"{self.rule_id}\x00{self.path}\x00{normalized}".encode()
        return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class SecretsAllow:
    """`secrets.allow` of `.reviewops.yaml`: credentials findings to accept where no pragma can be written."""

    paths: tuple[str, ...] = ()  # globs: no secrets findings in these files
    values: tuple[str, ...] = ()  # regexes: a detected value matching one (search) is not reported
    fingerprints: frozenset[str] = frozenset()  # findings' fingerprints (as shown by the CLI's JSON)


@dataclass(frozen=True)
class RepoConfig:
    """`.reviewops.yaml` from the base branch; `errors` names bad fields (the review still runs)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    instructions: dict[str, str] = field(default_factory=dict)  # glob -> extra instructions for the LLM
    disabled_analyzers: frozenset[str] = frozenset()
    severity_threshold: Severity | None = None
    max_comments: int | None = None
    errors: tuple[str, ...] = ()
    secrets_allow: SecretsAllow = field(default_factory=SecretsAllow)


@dataclass
class LLMUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class AnalysisContext:
    """Everything an analyzer may look at. `read_head` returns a file's full head content (None if gone).

    `read_base` reads any path at the base of the change (a changed file's previous content, or the
    repository's linter configuration, which is always taken from base so a change cannot relax its own
    review). None means the base is unknown (a plain patch file): linters then fall back to reporting
    what they find on added lines, with configuration read from `read_head`.
    """

    files: Sequence[ChangedFile]
    title: str = ""
    body: str = ""
    config: RepoConfig = field(default_factory=RepoConfig)
    read_head: Callable[[str], str | None] = lambda _path: None
    read_base: Callable[[str], str | None] | None = None
    prior_findings: list[Finding] = field(default_factory=list)  # deterministic findings, context for the LLM
    llm_allowed: bool = True  # False when the tenant's token budget is spent or the LLM is disabled
    notes: list[str] = field(default_factory=list)  # lines for the summary (e.g. "LLM skipped: timeout")
    usage: LLMUsage = field(default_factory=LLMUsage)
    # Where the diff comes from (empty for a local diff) and what this review may run.
    repository: str = ""
    head_sha: str = ""
    enabled_analyzers: Mapping[str, bool] | None = None  # None: every analyzer's own default
    llm: LLMSettings | None = None  # None: the LLM analyzers stay unconfigured
    llm_skip_reason: str | None = None  # why llm_allowed is False, for the summary's note
    # What analyzers hand back besides findings.
    llm_summary: str | None = None
    qa_checklist: list[str] | None = None
    qa_checklist_source: str | None = None  # "llm" or "heuristic"


class Analyzer(Protocol):
    """A plugin: `id` is what policies and `.reviewops.yaml` enable or disable."""

    id: str

    def analyze(self, ctx: AnalysisContext) -> list[Finding]: ...
