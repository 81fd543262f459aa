"""One JSON answer from an OpenAI-compatible chat-completions endpoint, with timeout, retries and metrics.

The SDK's own retries are off (max_retries=0) so every attempt is counted and backs off the same way;
4xx answers other than 408/409/429 are not retried (they will not get better).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import BaseModel, ValidationError

from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import LLMUsage
from reviewops.credentials.redaction import redact_text
from reviewops.telemetry.metrics import LLM_REQUEST_SECONDS, LLM_REQUESTS, LLM_TOKENS
from reviewops.telemetry.tracing import tracer

if TYPE_CHECKING:  # the SDK takes seconds to import: only load it when a request is made
    import openai

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class LLMSkipped(Exception):
    """The LLM part could not run; `str(exc)` is a short reason fit for the summary."""


class InvalidAnswer(ValueError):
    pass


def estimate_tokens(text: str) -> int:
    """~4 characters per token: close enough for budgeting, without a tokenizer per model."""
    return max(1, (len(text) + 3) // 4)


def parse_answer(content: str | None, model: type[T]) -> T:
    """Validate the model's reply; tolerates a ```json fence, nothing else."""
    if not content:
        raise InvalidAnswer("empty answer")
    fenced = FENCE.match(content)
    raw = fenced.group(1) if fenced else content
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise InvalidAnswer(f"answer is not the expected JSON: {type(exc).__name__}") from None


def _client(settings: LLMSettings) -> openai.OpenAI:
    import openai

    return openai.OpenAI(
        base_url=settings.base_url or None,
        api_key=settings.api_key or "unused",  # local servers (Ollama, vLLM) ignore it; the SDK wants one
        timeout=settings.timeout_seconds,
        max_retries=0,
    )


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return True


def _count(
    usage: LLMUsage, reported: object, messages: list[dict[str, str]], content: str | None, span: Span
) -> None:
    """Token usage as the server reports it; estimated when it does not (some local servers)."""
    prompt = getattr(reported, "prompt_tokens", None)
    completion = getattr(reported, "completion_tokens", None)
    if prompt is None:
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
    if completion is None:
        completion = estimate_tokens(content or "")
    usage.prompt_tokens += int(prompt)
    usage.completion_tokens += int(completion)
    LLM_TOKENS.labels("prompt").inc(int(prompt))
    LLM_TOKENS.labels("completion").inc(int(completion))
    _usage_on_span(span, int(prompt), int(completion))


def _usage_on_span(span: Span, prompt: int, completion: int) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", prompt)
    span.set_attribute("gen_ai.usage.output_tokens", completion)


def _llm_span(settings: LLMSettings) -> Any:
    """One CLIENT span per request (OTel GenAI conventions); prompts and answers are never recorded."""
    model = settings.model or ("mock" if settings.mock else "")
    return tracer().start_as_current_span(
        "llm.chat", kind=SpanKind.CLIENT, record_exception=False, set_status_on_exception=False,
        attributes={"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                    "gen_ai.request.model": model},
    )  # fmt: skip


def chat_json(
    settings: LLMSettings,
    messages: list[dict[str, str]],
    model: type[T],
    usage: LLMUsage,
    *,
    mock: Callable[[], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Ask for a JSON object, validate it as `model`; raise LLMSkipped with a reason after the last try."""
    # The redaction gate on every prompt, whoever built it: nothing leaves for the model unredacted.
    messages = [{**m, "content": redact_text(m["content"])} for m in messages]
    if settings.mock:
        if mock is None:
            raise LLMSkipped("mock mode has no canned answer for this request")
        with _llm_span(settings) as span:
            canned = mock()
            prompt = sum(estimate_tokens(m["content"]) for m in messages)
            completion = estimate_tokens(canned)
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion
            _usage_on_span(span, prompt, completion)
            return parse_answer(canned, model)
    if not settings.configured:
        raise LLMSkipped(settings.why_unconfigured())
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    client = _client(settings)
    reason = "no attempt made"
    json_mode = True  # servers without JSON mode answer 400: then ask again once without it
    attempt = 0
    while attempt <= settings.max_retries:
        if attempt:
            sleep(settings.backoff_seconds * 2 ** (attempt - 1))
        attempt += 1
        started = time.monotonic()
        outcome = "ok"
        with _llm_span(settings) as span:
            try:
                response = client.chat.completions.create(
                    model=settings.model or "",
                    messages=cast(list[ChatCompletionMessageParam], messages),
                    temperature=0,
                    response_format={"type": "json_object"} if json_mode else openai.omit,
                )
                if getattr(response, "model", None):
                    span.set_attribute("gen_ai.response.model", str(response.model))
                content = response.choices[0].message.content if response.choices else None
                _count(usage, response.usage, messages, content, span)
                return parse_answer(content, model)
            except openai.APITimeoutError:
                outcome, reason = "timeout", f"timed out after {settings.timeout_seconds:g}s"
            except InvalidAnswer as exc:
                outcome, reason = "invalid", f"invalid response ({exc})"
            except openai.APIStatusError as exc:
                outcome, reason = "error", f"HTTP {exc.status_code} from the LLM endpoint"
                if exc.status_code == 400 and json_mode:
                    json_mode, attempt = False, attempt - 1  # not the model's fault: a free, immediate retry
                elif not _retryable(exc):
                    break
            except openai.APIConnectionError:
                outcome, reason = "error", "could not connect to the LLM endpoint"
            except (openai.OpenAIError, ValueError, KeyError, IndexError) as exc:
                outcome, reason = "error", f"unexpected answer ({type(exc).__name__})"
            finally:
                LLM_REQUEST_SECONDS.observe(time.monotonic() - started)
                LLM_REQUESTS.labels(outcome).inc()
                if outcome != "ok":
                    span.set_attribute("error.type", outcome)
                    span.set_status(Status(StatusCode.ERROR, reason))
        log.warning("llm request failed (attempt %d): %s", attempt, reason)
    raise LLMSkipped(reason)
