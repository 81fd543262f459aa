"""The LLM-backed analyzers run side by side under one deadline; the deterministic findings are posted."""

from __future__ import annotations

import threading

import pytest

from reviewops.analysis import engine
from reviewops.analysis.analyzers import build_analyzers
from reviewops.analysis.engine import run_review
from reviewops.analysis.llm.client import _client
from reviewops.analysis.llm.limits import Deadline
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, Finding, RepoConfig
from tests.reviewops.analysis.helpers import context, new_file
from tests.support.fake_openai import FakeOpenAI

SECRET = "ghp_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9"


def test_a_slow_endpoint_costs_one_deadline_not_a_sum(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "slow"
    fake_openai.slow_seconds = 30
    llm = LLMSettings(base_url=fake_openai.url, model="reviewer-1", api_key="k", timeout_seconds=60,
                      review_deadline_seconds=2, answer_form="json_object")  # fmt: skip
    # The SDK's first import and client take ~1 s in a fresh test process: not part of the deadline tested.
    _client(llm)
    ctx = context(new_file("app.py", ["def f():", f'    token = "{SECRET}"', "    return 1"]))
    result = run_review(ctx, build_analyzers(None, RepoConfig(), llm))
    # Both LLM analyzers asked at once (one after the other, the second would have found no time left).
    assert len(fake_openai.requests) == 2
    assert any(f.analyzer == "secrets" for f in result.findings)  # deterministic findings are kept
    assert "LLM review skipped: review deadline of 2s reached" in result.notes
    assert any(
        n.startswith("QA checklist from heuristics: the LLM gave none (review deadline") for n in result.notes
    )
    assert result.qa_checklist  # the heuristic one
    assert not any(isinstance(v, Deadline) for v in vars(result).values())  # the deadline stays inside


class _Stuck:
    """An LLM-backed analyzer that ignores the deadline (a bug, or a library call that hangs)."""

    id = "llm"
    uses_llm = True
    settings = LLMSettings(review_deadline_seconds=0.5)

    def __init__(self) -> None:
        self.release = threading.Event()

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        self.release.wait(30)
        return []


def test_an_analyzer_past_the_deadline_is_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "DEADLINE_GRACE_SECONDS", 0.2)
    stuck = _Stuck()
    ctx = context(new_file("app.py", ["def f():", f'    token = "{SECRET}"']))
    try:
        result = run_review(ctx, [*build_analyzers({"llm": False, "qa-checklist": False}, RepoConfig(), None),
                                  stuck])  # fmt: skip
    finally:
        stuck.release.set()
    assert any(f.analyzer == "secrets" for f in result.findings)
    assert "Analyzer llm did not finish within the LLM deadline of 0.5s; posted without it." in result.notes
