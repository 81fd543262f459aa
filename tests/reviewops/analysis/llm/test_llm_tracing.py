"""Each LLM request is one `llm.chat` CLIENT span with the GenAI token attributes, failed attempts marked."""

from __future__ import annotations

from typing import Any

import pytest

from reviewops.analysis.llm.client import LLMSkipped, chat_json
from reviewops.analysis.llm.reviewer import LLMReview
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import LLMUsage
from tests.support.fake_openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "review this"}]


def settings(server: FakeOpenAI, **kw: Any) -> LLMSettings:
    values: dict[str, Any] = {"base_url": server.url, "api_key": "sk-secret-key-123", "model": "reviewer-1",
                              "timeout_seconds": 2.0, "max_retries": 0, "backoff_seconds": 0.0}  # fmt: skip
    values.update(kw)
    return LLMSettings(**values)


def chats(spans: Any) -> list[Any]:
    return [s for s in spans.get_finished_spans() if s.name == "llm.chat"]


def test_tokens_as_the_server_reports_them(fake_openai: FakeOpenAI, spans: Any) -> None:
    fake_openai.prompt_tokens, fake_openai.completion_tokens = 321, 45
    usage = LLMUsage()
    chat_json(settings(fake_openai), MESSAGES, LLMReview, usage)
    (span,) = chats(spans)
    assert span.kind.name == "CLIENT" and span.status.status_code.name == "UNSET"
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["gen_ai.request.model"] == "reviewer-1"
    assert span.attributes["gen_ai.response.model"] == "reviewer-1"
    assert span.attributes["gen_ai.usage.input_tokens"] == 321
    assert span.attributes["gen_ai.usage.output_tokens"] == 45
    assert (usage.prompt_tokens, usage.completion_tokens) == (321, 45)
    # Neither the prompt nor the key goes into the span.
    assert not any("review this" in str(v) or "sk-secret" in str(v) for v in span.attributes.values())


def test_one_span_per_attempt_failed_ones_marked(fake_openai: FakeOpenAI, spans: Any) -> None:
    fake_openai.script = ["error", "garbage"]
    fake_openai.mode = "good"
    chat_json(settings(fake_openai, max_retries=2, answer_form="json_object"), MESSAGES, LLMReview, LLMUsage(),
              sleep=lambda _s: None)  # fmt: skip
    first, second, third = sorted(chats(spans), key=lambda s: s.start_time)
    assert first.status.status_code.name == "ERROR" and first.attributes["error.type"] == "error"
    assert "gen_ai.usage.input_tokens" not in first.attributes  # a 500 used no tokens
    # Garbage was still generated (and billed): its tokens are counted, the attempt is an error.
    assert second.attributes["error.type"] == "invalid"
    assert second.attributes["gen_ai.usage.output_tokens"] == fake_openai.completion_tokens
    assert third.status.status_code.name == "UNSET"  # the re-ask, answered validly


def test_the_answer_form_is_on_the_span(fake_openai: FakeOpenAI, spans: Any) -> None:
    fake_openai.forms = ("json_object_schema", "json_object", "plain")
    fake_openai.refuse_status = 500  # llama-cpp-python's answer to the json_schema form
    chat_json(settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    first, second = sorted(chats(spans), key=lambda s: s.start_time)
    assert first.attributes["reviewops.llm.answer_form"] == "json_schema"
    assert first.status.status_code.name == "ERROR"
    assert second.attributes["reviewops.llm.answer_form"] == "json_object_schema"
    assert second.status.status_code.name == "UNSET"


def test_exhausted_retries_leave_error_spans(fake_openai: FakeOpenAI, spans: Any) -> None:
    fake_openai.mode = "error"
    with pytest.raises(LLMSkipped):
        chat_json(
            settings(fake_openai, max_retries=1, answer_form="json_object"),
            MESSAGES,
            LLMReview,
            LLMUsage(),
            sleep=lambda _s: None,
        )
    assert [s.status.status_code.name for s in chats(spans)] == ["ERROR", "ERROR"]


def test_mock_mode_is_traced_with_estimated_tokens(spans: Any) -> None:
    usage = LLMUsage()
    chat_json(LLMSettings(mock=True), MESSAGES, LLMReview, usage, mock=lambda: '{"findings": []}')
    (span,) = chats(spans)
    assert span.attributes["gen_ai.request.model"] == "mock"
    assert span.attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens > 0
    assert span.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens > 0
