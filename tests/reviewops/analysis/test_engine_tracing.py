"""One `analyzer <id>` span per analyzer run; a failing analyzer's span is an error, the review goes on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reviewops.analysis.engine import run_review
from reviewops.analysis.model import AnalysisContext, Finding, Severity
from tests.reviewops.analysis.helpers import context, new_file


class Finds:
    id = "finds"

    def analyze(self, ctx: AnalysisContext) -> Iterable[Finding]:
        return [Finding(self.id, "r", "app.py", 1, 1, Severity.WARNING, "m", line_content="x = 1")]


class Breaks:
    id = "breaks"

    def analyze(self, ctx: AnalysisContext) -> Iterable[Finding]:
        raise RuntimeError("analyzer bug")


def test_analyzer_spans(spans: Any) -> None:
    result = run_review(context(new_file("app.py", ["x = 1"])), [Finds(), Breaks()])  # type: ignore[list-item]
    assert len(result.findings) == 1
    by_name = {s.name: s for s in spans.get_finished_spans()}
    ok, broken = by_name["analyzer finds"], by_name["analyzer breaks"]
    assert ok.attributes["reviewops.analyzer"] == "finds" and ok.attributes["reviewops.findings"] == 1
    assert ok.status.status_code.name == "UNSET"
    assert broken.status.status_code.name == "ERROR"
    assert [e.name for e in broken.events] == ["exception"]
    assert "reviewops.findings" not in broken.attributes
