"""The LLM reviewer's settings (`REVIEWOPS_LLM_*`): a base of `reviewops.settings.Settings`, kept apart so
the endpoint's many knobs (answer form, context, deadline, re-ask) read as one group."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMFields(BaseSettings):
    """Every `REVIEWOPS_LLM_*` setting; validated with the rest of `Settings`, which inherits them."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOPS_", extra="ignore", validate_default=True)

    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat-completions API, e.g. http://ollama:11434/v1. "
        "Unset with an API key: api.openai.com.",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="API key of the LLM endpoint.")
    llm_api_key_file: Path | None = Field(
        default=None,
        description="File holding the LLM endpoint's API key, instead of REVIEWOPS_LLM_API_KEY; re-read "
        "within a second of a change (each review uses the key in force when it starts).",
    )
    llm_model: str | None = Field(
        default=None, description="Model name for the LLM reviewer. Unset: the LLM reviewer is skipped."
    )
    llm_timeout_seconds: float = Field(
        default=60,
        gt=0,
        description="Longest wait for one LLM answer (also bounded by the review deadline). A timed-out "
        "request is not resent.",
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of what a retry can fix: 429 (after its Retry-After), 5xx, a dropped connection.",
    )
    llm_max_input_tokens: int = Field(
        default=24000,
        ge=1000,
        description="Largest prompt of one LLM request; a diff larger than this (or than the context window "
        "leaves room for) is reviewed in parts.",
    )
    llm_context_tokens: int | None = Field(
        default=None,
        ge=1024,
        description="The model's context window in tokens. Unset: what the endpoint reports (vLLM's "
        "max_model_len) or names in a context_length_exceeded answer, else 8192. Set it for Ollama (which "
        "truncates silently) and for hosted models with larger windows.",
    )
    llm_review_deadline_seconds: float = Field(
        default=120,
        gt=0,
        le=3600,
        description="LLM time of one whole review, shared by the LLM analyzers and all parts; at it the "
        "review is posted with what was answered, and the notes name what was not reviewed.",
    )
    llm_max_answer_tokens: int = Field(
        default=1536,
        ge=64,
        description="Cap of max_tokens per request; each request asks for what its answer's schema needs, "
        "at most this.",
    )
    llm_answer_form: Literal["auto", "json_schema", "json_object_schema", "json_object", "plain"] = Field(
        default="auto",
        description="How the answer's JSON schema is sent: auto tries json_schema, then json_object with "
        "the schema, json_object, plain, and remembers the first form the endpoint accepts.",
    )
    llm_reask: bool = Field(
        default=True,
        description="Ask once more, with the validation error, when an answer does not match its schema.",
    )
    llm_max_concurrency: int = Field(
        default=6,
        ge=1,
        le=32,
        description="Parts of one review's diff asked at once. The author waits rounds x the model's latency: "
        "6 asks a 1,000-line diff (5 parts at an 8k context) in one round. A server that runs one request at "
        "a time (llama.cpp on CPU) wants 1.",
    )
    llm_max_parts: int = Field(
        default=12,
        ge=1,
        le=200,
        description="Most parts a large diff is split into; files beyond them are named as not reviewed.",
    )
    mock_llm: bool = Field(
        default=False,
        description="Deterministic canned LLM output instead of a real endpoint (demos, tests).",
    )
