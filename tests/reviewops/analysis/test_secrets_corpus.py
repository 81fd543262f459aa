"""The planted corpus (tests/fixtures/secrets-corpus): every credential found, no decoy at error, no
planted value in any output of the engine (CLI text/JSON/SARIF, GitHub render, findings)."""

from __future__ import annotations

import pytest

from reviewops.analysis.analyzers.hygiene import HygieneAnalyzer
from reviewops.analysis.analyzers.python_lint import PythonLintAnalyzer
from reviewops.analysis.analyzers.secrets import SecretsAnalyzer
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.engine import run_review
from reviewops.analysis.model import AnalysisContext, Finding, Severity
from reviewops.analysis.output import comment_body, to_json, to_sarif, to_text
from reviewops.reviews.render import annotation, inline_comment, summary_body
from tests.support.secrets_corpus import Case, cases, leaked

SEEDS = [16, 2026, 31337]  # each seed is a fresh set of credentials


def _findings(case: Case) -> list[Finding]:
    files = parse_unified_diff(case.diff())
    return SecretsAnalyzer().analyze(AnalysisContext(files=files))


def test_corpus_has_the_promised_breadth() -> None:
    corpus = cases()
    creds = [c for c in corpus if c.is_credential]
    assert sum(len(c.secrets) for c in creds) >= 60
    assert len({c.provider for c in creds}) >= 15
    assert len({c.path.rsplit("/", 1)[-1].rsplit(".", 1)[-1] for c in creds}) >= 10
    assert sum(not c.is_credential for c in corpus) >= 30


@pytest.mark.parametrize("seed", SEEDS)
def test_every_planted_credential_is_found_on_its_line(seed: int) -> None:
    missed = []
    for case in (c for c in cases(seed) if c.is_credential):
        findings = _findings(case)
        if not findings:
            missed.append(case.id)
            continue
        if case.kind == "specific":  # a provider token or a private key is an error anywhere
            assert max(f.severity for f in findings) is Severity.ERROR, case.id
    assert missed == []


@pytest.mark.parametrize("seed", SEEDS)
def test_no_decoy_is_reported(seed: int) -> None:
    flagged = {c.id: [f.rule_id for f in _findings(c)] for c in cases(seed) if not c.is_credential}
    assert {k: v for k, v in flagged.items() if v} == {}


def test_generic_values_in_tests_fixtures_and_docs_are_warnings_provider_tokens_stay_errors() -> None:
    by_id = {c.id: c for c in cases()}
    for case_id in ("generic-token-test", "generic-fixture-url"):
        assert {f.severity for f in _findings(by_id[case_id])} == {Severity.WARNING}, case_id
    for case_id in ("gh-in-test", "openai-docs"):
        assert {f.severity for f in _findings(by_id[case_id])} == {Severity.ERROR}, case_id
    assert {f.severity for f in _findings(by_id["generic-secret-key-py"])} == {Severity.ERROR}


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_no_planted_value_in_any_engine_output(seed: int) -> None:
    corpus = cases(seed)
    files = parse_unified_diff("".join(c.diff() for c in corpus))
    ctx = AnalysisContext(files=files, read_head=lambda _p: None)
    result = run_review(ctx, [SecretsAnalyzer(), HygieneAnalyzer(), PythonLintAnalyzer()])
    by_path = {f.path: f for f in files}
    outputs = [to_text(result), to_json(result), to_sarif(result), repr(result.findings)]
    for f in result.findings:
        outputs += [comment_body(f), str(annotation(f)), str(inline_comment(f, by_path[f.path]))]
    outputs.append(
        summary_body(
            head_sha="a" * 40,
            findings=result.findings,
            inline=1,
            annotations=0,
            already_posted=0,
            below_threshold=0,
            threshold=Severity.INFO,
            notes=result.notes,
        )
    )
    blob = "\n".join(outputs)
    assert {c.id: leaked(blob, c) for c in corpus if leaked(blob, c)} == {}
