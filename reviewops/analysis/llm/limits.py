"""The limits an LLM review works within: the model's context window, token estimates, the review's deadline.

The context window comes from, in order: what the endpoint answered when a prompt was too long
(`context_length_exceeded`, learnt for the process; it wins over a larger setting); the
`REVIEWOPS_LLM_CONTEXT_TOKENS` setting; what the server reports in `/v1/models` (vLLM's `max_model_len`, asked
once per endpoint); else a safe 8,192.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reviewops.analysis.model import AnalysisContext

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 8192
CHARS_PER_TOKEN = 2.5  # diffs measured at ~2.9 characters per token on SmolLM2's tokenizer: err low
PROMPT_MARGIN_TOKENS = 128  # chat template and per-message overhead the estimate does not see
MIN_REQUEST_SECONDS = 1.0  # less time than this left before the deadline: do not start a request

_context: dict[tuple[str, str], int] = {}
_asked: set[tuple[str, str]] = set()
_lock = threading.Lock()

# OpenAI and vLLM: "This model's maximum context length is 8192 tokens. However, you requested 20081 tokens"
_OPENAI_CONTEXT = re.compile(r"maximum context length is (\d+) tokens.*?requested (\d+) tokens", re.I | re.S)
# llama.cpp's llama-server: {"type": "exceed_context_size_error", "n_prompt_tokens": N, "n_ctx": M}
_CONTEXT_CODES = ("context_length_exceeded", "exceed_context_size_error")


def estimate_tokens(text: str) -> int:
    """A safe (high) token count without the model's tokenizer: one token per 2.5 characters."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


@dataclass(frozen=True)
class ContextError:
    """What the endpoint said about a prompt too long for it; sizes are None when it did not say."""

    limit: int | None
    requested: int | None

    def describe(self) -> str:
        if self.limit and self.requested:
            return f"context length exceeded: {self.requested:,} of {self.limit:,} tokens"
        if self.limit:
            return f"context length exceeded ({self.limit:,} tokens)"
        return "context length exceeded"


def context_error(body: Any, message: str) -> ContextError | None:
    """The endpoint's "prompt too long" answer, recognised by its code or its message, else None."""
    error = body.get("error", body) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or error.get("type") or "")
    text = str(error.get("message") or message or "")
    found = _OPENAI_CONTEXT.search(text)
    if found:
        return ContextError(int(found.group(1)), int(found.group(2)))
    if code in _CONTEXT_CODES or "context length" in text.lower() or "context size" in text.lower():
        limit = error.get("n_ctx")
        requested = error.get("n_prompt_tokens")
        return ContextError(
            int(limit) if isinstance(limit, int) else None,
            int(requested) if isinstance(requested, int) else None,
        )
    return None


def remember_context(key: tuple[str, str], tokens: int) -> None:
    with _lock:
        _context[key] = tokens
    log.info("llm endpoint %s model %s: context window %d tokens learnt", key[0], key[1] or "-", tokens)


def forget_contexts() -> None:
    with _lock:
        _context.clear()
        _asked.clear()


def _reported_context(key: tuple[str, str], api_key: str | None, timeout: float) -> int | None:
    """vLLM's `max_model_len` for the model in `/v1/models`; None when the server does not report one."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{key[0]}/models", headers=headers, timeout=timeout)
        models = response.json().get("data", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict) and entry.get("id") == key[1]:
            value = entry.get("max_model_len") or entry.get("context_length")
            return int(value) if isinstance(value, int) and value > 0 else None
    return None


def context_tokens(configured: int | None, key: tuple[str, str], api_key: str | None, timeout: float) -> int:
    """The context window to plan with (see the module docstring for the order). What the endpoint itself
    said beats a larger setting: a prompt planned for the setting would only be refused again."""
    with _lock:
        known = _context.get(key)
        ask = known is None and key not in _asked and not configured
        if ask:
            _asked.add(key)
    if configured:
        return min(configured, known) if known else configured
    if known:
        return known
    if ask:
        reported = _reported_context(key, api_key, min(timeout, 5.0))
        if reported:
            remember_context(key, reported)
            return reported
    return DEFAULT_CONTEXT_TOKENS


class Deadline:
    """One review's LLM time, shared by its analyzers and parts: a monotonic end, never extended."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() < MIN_REQUEST_SECONDS


def review_deadline(ctx: AnalysisContext, seconds: float) -> Deadline:
    """The review's deadline: the one the engine set on the context (before the LLM analyzers start side by
    side), or one started now for a direct caller."""
    if ctx.llm_deadline is None:
        ctx.llm_deadline = Deadline(seconds)
    deadline: Deadline = ctx.llm_deadline
    return deadline
