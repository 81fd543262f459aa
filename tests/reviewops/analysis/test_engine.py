"""run_review and select_for_posting: placement inside the diff, dedupe, ranking, isolation, selection."""

from __future__ import annotations

import dataclasses

from reviewops.analysis.analyzers import REGISTRY, build_analyzers
from reviewops.analysis.config import parse_repo_config
from reviewops.analysis.engine import place_in_diff, run_review, select_for_posting
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, Finding, RepoConfig, Severity
from tests.reviewops.analysis.helpers import context, modified_file, new_file


def _f(
    line: int,
    sev: Severity = Severity.WARNING,
    rule: str = "t/r",
    path: str = "a.py",
    text: str = "",
    end: int | None = None,
    suggestion: str | None = None,
) -> Finding:
    return Finding(
        "t",
        rule,
        path,
        line,
        end or line,
        sev,
        f"msg {line}",
        suggestion=suggestion,
        line_content=text or f"line {line}",
    )


class Fixed:
    """An analyzer returning canned findings (and recording what it was given)."""

    def __init__(self, analyzer_id: str, findings: list[Finding], uses_llm: bool = False) -> None:
        self.id = analyzer_id
        self.findings = findings
        self.uses_llm = uses_llm
        self.seen_prior: list[Finding] | None = None
        self.seen_paths: list[str] = []

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        self.seen_prior = list(ctx.prior_findings)
        self.seen_paths = [f.path for f in ctx.files]
        return self.findings


class Broken:
    id = "broken"

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        raise RuntimeError("boom")


def _two_hunks() -> object:
    before = [f"l{i}" for i in range(1, 41)]
    after = list(before)
    after[1] = "l2 changed"
    after[30] = "l31 changed"
    return modified_file("a.py", before, after)


def test_findings_outside_the_diff_are_dropped() -> None:
    changed = new_file("a.py", ["x", "y", "z"])
    analyzer = Fixed("t", [_f(2), _f(9), _f(1, path="other.py")])
    result = run_review(context(changed), [analyzer])
    assert [(f.path, f.start_line) for f in result.findings] == [("a.py", 2)]
    assert result.dropped == 2


def test_ranges_across_hunks_collapse_to_the_last_line() -> None:
    changed = _two_hunks()
    files = {"a.py": changed}  # type: ignore[dict-item]
    spanning = _f(2, end=31, suggestion="x")
    placed = place_in_diff(spanning, files)  # type: ignore[arg-type]
    assert placed is not None and (placed.start_line, placed.end_line, placed.suggestion) == (31, 31, None)
    inside = _f(1, end=3, suggestion="a\nb\nc")
    assert place_in_diff(inside, files) == inside  # type: ignore[arg-type]
    assert place_in_diff(_f(15), files) is None  # type: ignore[arg-type]
    assert place_in_diff(dataclasses.replace(_f(2), side="LEFT"), files) is None  # type: ignore[arg-type]


def test_dedupe_by_fingerprint_and_rank() -> None:
    changed = new_file("a.py", ["same", "b", "c", "same"])
    findings = [
        _f(4, Severity.INFO, rule="t/dup", text="same"),
        _f(1, Severity.WARNING, rule="t/dup", text="same"),  # same fingerprint, more severe: wins
        _f(3, Severity.ERROR, rule="t/x"),
        _f(2, Severity.WARNING, rule="t/y"),
    ]
    result = run_review(context(changed), [Fixed("t", findings)])
    assert [(f.start_line, f.severity) for f in result.findings] == [
        (3, Severity.ERROR),
        (1, Severity.WARNING),
        (2, Severity.WARNING),
    ]


def test_fingerprint_stable_across_line_shifts() -> None:
    a = _f(10, text="    return eval(x)  ")
    b = _f(42, text="return   eval(x)")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != _f(10, text="return eval(y)").fingerprint
    assert a.fingerprint != dataclasses.replace(a, path="b.py").fingerprint


def test_failing_analyzer_is_isolated() -> None:
    from prometheus_client import REGISTRY as PROM

    def failed() -> float:
        return (
            PROM.get_sample_value(
                "reviewops_analyzer_runs_total", {"analyzer": "broken", "outcome": "failed"}
            )
            or 0
        )

    before = failed()
    changed = new_file("a.py", ["x"])
    result = run_review(context(changed), [Broken(), Fixed("t", [_f(1)])])
    assert failed() == before + 1
    assert len(result.findings) == 1
    assert "Analyzer broken failed and was skipped: RuntimeError" in result.notes
    assert set(result.timings) == {"broken", "t"}


def test_deterministic_first_and_their_findings_go_to_the_llm() -> None:
    changed = new_file("a.py", ["x", "y"])
    llm = Fixed("llm", [_f(2, rule="llm/bug")], uses_llm=True)
    det = Fixed("det", [_f(1), _f(7)])
    result = run_review(context(changed), [llm, det])  # order given does not matter
    assert llm.seen_prior is not None and [f.start_line for f in llm.seen_prior] == [1]
    assert {f.rule_id for f in result.findings} == {"t/r", "llm/bug"}


def test_config_scopes_files_and_reports_errors() -> None:
    config = parse_repo_config("paths: {exclude: ['vendor/**']}\nseverity_threshold: loud")
    files = [new_file("src/a.py", ["x"]), new_file("vendor/lib.py", ["y"])]
    analyzer = Fixed("t", [_f(1, path="vendor/lib.py"), _f(1, path="src/a.py")])
    result = run_review(context(*files, config=config), [analyzer])
    assert analyzer.seen_paths == ["src/a.py"]
    assert [f.path for f in result.findings] == ["src/a.py"]
    assert "1 files excluded by .reviewops.yaml." in result.notes
    assert any(
        n.startswith(".reviewops.yaml: severity_threshold: unknown severity 'loud'") for n in result.notes
    )


def test_full_run_with_mock_llm(realworld_diff: str) -> None:
    from reviewops.analysis.diff import parse_unified_diff

    files = parse_unified_diff(realworld_diff)
    analyzers = build_analyzers(None, RepoConfig(), LLMSettings(mock=True))
    heads = {"src/pkg/win.py": "x = 1\r\ny = 20\r\nz = 3\r\nprint(y)\r\n"}
    first = run_review(context(*files, heads=heads), analyzers)
    second = run_review(context(*files, heads=heads), analyzers)
    assert first.findings == second.findings and first.qa_checklist == second.qa_checklist
    assert {f.analyzer for f in first.findings} == {"hygiene", "llm"}
    assert first.qa_checklist and first.qa_checklist[0].startswith("[mock LLM]")
    assert "Not analyzed (binary or too large for a diff): docs/logo.png" in first.notes
    assert first.usage.prompt_tokens > 0
    assert set(first.timings) == set(REGISTRY)


def test_build_analyzers_respects_policy_and_config() -> None:
    ids = [a.id for a in build_analyzers(None, RepoConfig(), None)]
    linters = ["shellcheck", "hadolint", "actionlint", "yamllint"]
    assert ids == [
        "secrets",
        "python-lint",
        "hygiene",
        *linters,
        "qa-checklist",
    ]  # no LLM settings: no reviewer
    ids = [
        a.id
        for a in build_analyzers(
            {"hygiene": False, "hadolint": False},
            RepoConfig(disabled_analyzers=frozenset({"secrets", "yamllint"})),
            LLMSettings(mock=True),
        )
    ]
    assert ids == ["python-lint", "shellcheck", "actionlint", "llm", "qa-checklist"]


def test_select_for_posting() -> None:
    findings = [_f(i, Severity.WARNING) for i in range(1, 41)] + [
        _f(100, Severity.INFO),
        _f(200, Severity.ERROR),
    ]
    posted = {findings[0].fingerprint}
    inline, overflow = select_for_posting(findings, Severity.WARNING, posted, max_comments=30)
    assert inline[0].start_line == 200  # errors first
    assert len(inline) == 30 and len(overflow) == 10  # 39 new warnings + 1 error
    assert all(f.severity >= Severity.WARNING for f in inline + overflow)
    assert findings[0].fingerprint not in {f.fingerprint for f in inline + overflow}
    assert select_for_posting(findings, Severity.ERROR, set())[0] == [findings[-1]]
    assert select_for_posting(findings, Severity.INFO, set(), max_comments=0)[0] == []
