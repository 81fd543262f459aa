"""One structured answer from an OpenAI-compatible chat-completions endpoint, within the review's deadline.

Every request carries the answer's JSON schema (in the form the endpoint takes, see `forms`) and a
`max_tokens` sized to that schema. An answer that fails validation is asked again once, with the
validation error. Only what a retry can fix is retried: 429 (after its Retry-After), 5xx and a dropped
connection; a timeout is never resent unchanged, and a prompt over the context window raises
`ContextExceeded` (with the sizes the endpoint named) so the caller can split it and ask again at once.
The SDK's own retries are off (max_retries=0) so every attempt is counted, traced and bounded here.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import BaseModel, ValidationError

from reviewops.analysis.llm import forms
from reviewops.analysis.llm.limits import ContextError, Deadline, context_error, estimate_tokens
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import LLMUsage
from reviewops.credentials.detect import redact_line
from reviewops.credentials.redaction import redact_text
from reviewops.telemetry.metrics import (
    LLM_ANSWERS,
    LLM_REQUEST_SECONDS,
    LLM_REQUESTS,
    LLM_TOKENS,
    model_label,
)
from reviewops.telemetry.tracing import tracer

if TYPE_CHECKING:  # the SDK takes seconds to import: only load it when a request is made
    import openai

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
MAX_REASK_ECHO = 2000  # characters of the invalid answer shown back to the model
_usage_lock = threading.Lock()

__all__ = ["AnswerInvalid", "AnswerTimeout", "ContextExceeded", "DeadlineReached", "InvalidAnswer",
           "LLMSkipped", "chat_json", "estimate_tokens", "parse_answer"]  # fmt: skip


class LLMSkipped(Exception):
    """The LLM part could not run; `str(exc)` is a short reason fit for the summary."""

    outcome = "error"


class ContextExceeded(LLMSkipped):
    """The endpoint said the prompt does not fit its context window; `error` has the sizes it named."""

    outcome = "context"

    def __init__(self, error: ContextError) -> None:
        super().__init__(error.describe())
        self.error = error


class AnswerTimeout(LLMSkipped):
    outcome = "timeout"


class DeadlineReached(LLMSkipped):
    outcome = "deadline"


class AnswerInvalid(LLMSkipped):
    """No valid answer, after the one re-ask (or without it when re-asking is off)."""

    outcome = "invalid"


class InvalidAnswer(ValueError):
    pass


def parse_answer(content: str | None, model: type[T]) -> T:
    """Validate the model's reply; tolerates a ```json fence, nothing else. The error says what was wrong."""
    if not content:
        raise InvalidAnswer("empty answer")
    fenced = FENCE.match(content)
    raw = fenced.group(1) if fenced else content
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"answer is not the expected JSON: not JSON ({exc.msg} at {exc.pos})") from None
    except ValueError:
        raise InvalidAnswer("answer is not the expected JSON: not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidAnswer(f"answer is not the expected JSON: {problems}") from None


def _client(settings: LLMSettings) -> openai.OpenAI:
    """The process's SDK client for this endpoint and key, made once and shared by every thread.

    Making one costs ~0.1 s of CPU (an `httpx.Client` loads the CA bundle into a new SSL context) and
    opens fresh connections; made per request (2-6 per review), that was a large share of a worker's
    CPU per review (issue 20, `python -m bench review`). The SDK client and its `httpx.Client` are thread-safe,
    and every request passes its own timeout, so sharing changes nothing else. A rotated key or a new
    endpoint gets its own client (the key is part of the cache key)."""
    return _shared_client(settings.base_url or None, settings.api_key or "unused", settings.timeout_seconds)


@functools.lru_cache(maxsize=8)
def _shared_client(base_url: str | None, api_key: str, timeout: float) -> openai.OpenAI:
    import openai

    # Local servers (Ollama, vLLM) ignore the key; the SDK wants one.
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds the endpoint asked us to wait (Retry-After as seconds or an HTTP date, or retry-after-ms)."""
    headers = exc.response.headers
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def server_says(exc: openai.APIStatusError) -> str:
    """The endpoint's own error message, one line, short, redacted: for notes and logs."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    text = str(error.get("message") if isinstance(error, dict) and error.get("message") else exc.message)
    text = " ".join(text.split())[:200]
    return redact_line("llm-error.txt", text)


def _count(usage: LLMUsage, reported: object, messages: list[dict[str, str]], content: str | None,
           span: Span) -> tuple[int, int]:  # fmt: skip
    """Token usage as the server reports it; estimated when it does not (some local servers)."""
    prompt = getattr(reported, "prompt_tokens", None)
    completion = getattr(reported, "completion_tokens", None)
    if prompt is None:
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
    if completion is None:
        completion = estimate_tokens(content or "")
    add_usage(usage, int(prompt), int(completion))
    _usage_on_span(span, int(prompt), int(completion))
    return int(prompt), int(completion)


def add_usage(usage: LLMUsage, prompt: int, completion: int) -> None:
    """Parts and analyzers run in threads and share the review's usage: add under a lock."""
    with _usage_lock:
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
    LLM_TOKENS.labels("prompt").inc(prompt)
    LLM_TOKENS.labels("completion").inc(completion)


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


def with_schema(messages: list[dict[str, str]], schema: dict[str, Any]) -> list[dict[str, str]]:
    """The schema goes into the system message whatever the form: weak models follow it better."""
    instruction = forms.schema_instruction(schema)
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n\n" + instruction}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def _mock_answer(settings: LLMSettings, messages: list[dict[str, str]], model: type[T], usage: LLMUsage,
                 mock: Callable[[], str] | None) -> T:  # fmt: skip
    if mock is None:
        raise LLMSkipped("mock mode has no canned answer for this request")
    with _llm_span(settings) as span:
        canned = mock()
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        completion = estimate_tokens(canned)
        with _usage_lock:
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion
        _usage_on_span(span, prompt, completion)
        return parse_answer(canned, model)


def chat_json(
    settings: LLMSettings,
    messages: list[dict[str, str]],
    model: type[T],
    usage: LLMUsage,
    *,
    mock: Callable[[], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Deadline | None = None,
) -> T:
    """Ask for a JSON object valid as `model`; raise LLMSkipped (or a subclass) with a reason otherwise."""
    # The redaction gate on every prompt, whoever built it: nothing leaves for the model unredacted.
    messages = [{**m, "content": redact_text(m["content"])} for m in messages]
    if settings.mock:
        return _mock_answer(settings, messages, model, usage, mock)
    if not settings.configured:
        raise LLMSkipped(settings.why_unconfigured())
    deadline = deadline or Deadline(settings.review_deadline_seconds)
    key = forms.endpoint_key(settings.base_url, settings.model)
    label = model_label(settings.model)
    try:
        with forms.probe_turn(settings.answer_form, key, max(0.0, deadline.remaining() - 1)):
            answer, outcome = _Exchange(settings, messages, model, usage, sleep, deadline, key).run()
    except forms.ProbeWaitExpired:
        LLM_ANSWERS.labels(label, "deadline").inc()
        raise DeadlineReached(f"review deadline of {deadline.seconds:g}s reached") from None
    except LLMSkipped as exc:
        LLM_ANSWERS.labels(label, exc.outcome).inc()
        log.warning("llm answer not obtained (%s): %s", exc.outcome, exc)
        raise
    LLM_ANSWERS.labels(label, outcome).inc()
    return answer


class _Exchange:
    """The requests behind one answer: form steps (free), one re-ask, retries of what a retry can fix."""

    def __init__(self, settings: LLMSettings, messages: list[dict[str, str]], model: type[T], usage: LLMUsage,
                 sleep: Callable[[float], None], deadline: Deadline, key: tuple[str, str]) -> None:  # fmt: skip
        self.settings, self.model, self.usage, self.sleep, self.deadline = (
            settings,
            model,
            usage,
            sleep,
            deadline,
        )
        self.key = key
        self.schema = model.model_json_schema()
        self.messages = with_schema(messages, self.schema)
        self.max_tokens = forms.answer_tokens(self.schema, settings.max_answer_tokens)
        self.form = forms.first_form(settings.answer_form, key)
        self.confirmed = settings.answer_form != forms.AUTO or forms.learnt_form(key) is not None
        self.reasked = False
        self.retries = 0

    def run(self) -> tuple[Any, str]:
        import openai

        client = _client(self.settings)
        while True:
            if self.deadline.expired():
                raise DeadlineReached(f"review deadline of {self.deadline.seconds:g}s reached")
            timeout = min(self.settings.timeout_seconds, self.deadline.remaining())
            content: str | None = None
            try:
                content = self._request(client, timeout)
                return parse_answer(content, self.model), "reasked" if self.reasked else "valid"
            except openai.APITimeoutError:
                add_usage(self.usage, sum(estimate_tokens(m["content"]) for m in self.messages), 0)
                if timeout < self.settings.timeout_seconds:
                    raise DeadlineReached(f"review deadline of {self.deadline.seconds:g}s reached") from None
                raise AnswerTimeout(f"timed out after {timeout:g}s (not resent)") from None
            except openai.APIStatusError as exc:
                self._status_error(exc)
            except openai.APIConnectionError:
                self._wait_for_retry("could not connect to the LLM endpoint", None)
            except InvalidAnswer as exc:
                if self.reasked or not self.settings.reask:
                    after = " after a re-ask" if self.reasked else ""
                    raise AnswerInvalid(f"invalid answer{after} ({exc})") from None
                self._reask(content, str(exc))

    def _request(self, client: openai.OpenAI, timeout: float) -> str | None:
        import openai
        from openai.types.chat import ChatCompletionMessageParam

        started = time.monotonic()
        outcome = "ok"
        fmt = forms.response_format(self.form, self.model.__name__, self.schema)
        with _llm_span(self.settings) as span:
            span.set_attribute("reviewops.llm.answer_form", self.form)
            try:
                response = client.chat.completions.create(
                    model=self.settings.model or "",
                    messages=cast(list[ChatCompletionMessageParam], self.messages),
                    temperature=0,
                    max_tokens=self.max_tokens,
                    response_format=cast(Any, fmt) if fmt is not None else openai.omit,
                    timeout=timeout,
                )
                if self.settings.answer_form == forms.AUTO:
                    forms.remember_form(self.key, self.form)
                self.confirmed = True
                if getattr(response, "model", None):
                    span.set_attribute("gen_ai.response.model", str(response.model))
                choice = response.choices[0] if response.choices else None
                content = choice.message.content if choice else None
                _count(self.usage, response.usage, self.messages, content, span)
                if choice is not None and choice.finish_reason == "length":
                    outcome = "invalid"
                    raise InvalidAnswer(f"the answer was cut off at max_tokens={self.max_tokens}")
                if choice is not None and not content and getattr(choice.message, "tool_calls", None):
                    outcome = "invalid"
                    raise InvalidAnswer("the answer came as a tool call, not as message content")
                if outcome == "ok":
                    try:
                        parse_answer(content, self.model)
                    except InvalidAnswer:
                        outcome = "invalid"
                return content
            except openai.APITimeoutError:
                outcome = "timeout"
                raise
            except openai.APIStatusError as exc:
                outcome = "context" if context_error(exc.body, exc.message) else "error"
                raise
            except openai.APIConnectionError:
                outcome = "error"
                raise
            finally:
                LLM_REQUEST_SECONDS.observe(time.monotonic() - started)
                LLM_REQUESTS.labels(outcome).inc()
                if outcome != "ok":
                    span.set_attribute("error.type", outcome)
                    span.set_status(Status(StatusCode.ERROR, outcome))

    def _status_error(self, exc: openai.APIStatusError) -> None:
        """Decide what an error answer means: context, refused form, retryable, or final."""
        said = server_says(exc)
        found = context_error(exc.body, exc.message) if exc.status_code in (400, 413, 422, 500) else None
        if found is not None:
            raise ContextExceeded(found)
        if not self.confirmed and forms.refuses_form(self.form, exc.status_code, said):
            step = forms.next_form(self.form)
            if step is not None:
                log.info("llm endpoint refused answer form %s (HTTP %d: %s); trying %s",
                         self.form, exc.status_code, said, step)  # fmt: skip
                self.form = step
                return
        reason = f"HTTP {exc.status_code} from the LLM endpoint: {said}"
        if exc.status_code == 429:
            self._wait_for_retry(reason, _retry_after(exc))
        elif exc.status_code >= 500:
            self._wait_for_retry(reason, None)
        else:
            raise LLMSkipped(reason)

    def _wait_for_retry(self, reason: str, after: float | None) -> None:
        """Sleep before the next try, or raise when no retry is left or the wait would pass the deadline."""
        if self.retries >= self.settings.max_retries:
            raise LLMSkipped(reason)
        wait = after if after is not None else self.settings.backoff_seconds * 2**self.retries
        if wait + 1 >= self.deadline.remaining():
            raise LLMSkipped(f"{reason} (a retry in {wait:g}s would pass the review deadline)")
        self.retries += 1
        log.warning("llm request failed (retry %d in %gs): %s", self.retries, wait, reason)
        self.sleep(wait)

    def _reask(self, content: str | None, problem: str) -> None:
        """Ask once more, showing the model its answer and what was wrong with it."""
        self.reasked = True
        shown = (content or "")[:MAX_REASK_ECHO]  # None when cut off or a tool call: nothing to show
        self.messages = [
            *self.messages,
            {"role": "assistant", "content": shown or "(no usable answer)"},
            {"role": "user", "content": f"That answer was not valid: {problem}. Answer again with only one "
                                        "JSON object that matches the schema, shorter if it was cut off."},
        ]  # fmt: skip
