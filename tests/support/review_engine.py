"""A small deterministic review engine built only from the contract types (reviewops.analysis.model).

It stands in for the real engine (reviewops.analysis.engine) in the GitHub pipeline's tests. Rules, per added
line: `AKIA...` -> secrets/error (its message deliberately echoes the line, to prove the pipeline scrubs it);
`print(` -> hygiene/warning with a suggestion; `TODO` -> hygiene/info; `# outside-diff` -> a finding on a line
far outside the diff; `# many:N` -> N distinct warnings on that line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from reviewops.analysis.model import AnalysisContext, Finding, LLMUsage, RepoConfig, Severity
from reviewops.reviews.engine import ReviewDeps
from tests.support.patches import parse_patch


@dataclass
class FakeResult:
    findings: list[Finding]
    notes: list[str]
    usage: LLMUsage
    timings: dict[str, float] = field(default_factory=dict)
    qa_checklist: Any = None


def engine(ctx: AnalysisContext) -> FakeResult:
    findings: list[Finding] = []
    for file in ctx.files:
        if not file.analyzable:
            continue
        for number, text in sorted(file.added_lines().items()):

            def add(rule: str, analyzer: str, sev: Severity, msg: str, line: int = number,
                    path: str = file.path, text: str = text, **kw: Any) -> None:  # fmt: skip
                findings.append(Finding(analyzer, rule, path, line, line, sev, msg, line_content=text, **kw))

            if "AKIA" in text:
                add("secret-aws-key", "secrets", Severity.ERROR, f"AWS access key in an added line: {text}")
            if "print(" in text:
                fixed = text.replace("print(", "log.debug(")
                add("debug-print", "hygiene", Severity.WARNING, "Debug print left in.", suggestion=fixed)
            if "TODO" in text:
                add("todo", "hygiene", Severity.INFO, "New TODO.")
            if "# outside-diff" in text:
                add("far-away", "hygiene", Severity.ERROR, "Finding outside the diff.", line=number + 5000)
            many = re.search(r"# many:(\d+)", text)
            for i in range(int(many.group(1)) if many else 0):
                add(f"many-{i:03d}", "hygiene", Severity.WARNING, f"Finding number {i}.")
    # Like reviewops.analysis.engine.run_review: invalid config fields are named in the notes by the engine.
    notes = [f".reviewops.yaml: {error} (default used)" for error in ctx.config.errors]
    notes += [] if ctx.llm_allowed else ["LLM review skipped: budget"]
    return FakeResult(findings, notes, LLMUsage(120, 30), {"fake_engine_seconds": 0.001}, ["Run the tests"])


def parse_config(text: str) -> RepoConfig:
    data = yaml.safe_load(text) or {}
    errors: list[str] = []
    max_comments = data.get("max_comments")
    if max_comments is not None and not isinstance(max_comments, int):
        errors.append("max_comments: must be an integer")
        max_comments = None
    threshold = data.get("severity_threshold")
    return RepoConfig(
        max_comments=max_comments,
        severity_threshold=Severity.parse(threshold) if threshold else None,
        errors=tuple(errors),
    )


DEPS = ReviewDeps(
    engine=engine,
    parse_file=lambda f: parse_patch(f["filename"], f.get("patch"), f["status"], f.get("previous_filename")),
    parse_config=parse_config,
)
