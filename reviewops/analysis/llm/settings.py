"""What the LLM analyzers need from `Settings`, as a small frozen value the worker can pass around."""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewops.settings import Settings


@dataclass(frozen=True)
class LLMSettings:
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 2
    max_input_tokens: int = 24000
    mock: bool = False
    backoff_seconds: float = 1.0  # first retry delay; doubles per attempt
    context_tokens: int | None = None  # None: learnt from the endpoint (see reviewops.analysis.llm.limits)
    review_deadline_seconds: float = 120.0
    max_answer_tokens: int = 1536
    answer_form: str = "auto"  # auto | json_schema | json_object_schema | json_object | plain
    reask: bool = True
    max_concurrency: int = 6
    max_parts: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMSettings:
        return cls(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key_value(),  # from the file in force when the key is mounted
            model=settings.llm_model,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            max_input_tokens=settings.llm_max_input_tokens,
            mock=settings.mock_llm,
            context_tokens=settings.llm_context_tokens,
            review_deadline_seconds=settings.llm_review_deadline_seconds,
            max_answer_tokens=settings.llm_max_answer_tokens,
            answer_form=settings.llm_answer_form,
            reask=settings.llm_reask,
            max_concurrency=settings.llm_max_concurrency,
            max_parts=settings.llm_max_parts,
        )

    @property
    def configured(self) -> bool:
        """True when there is something to call: mock mode, or a model plus an endpoint or key."""
        return self.mock or (bool(self.model) and bool(self.base_url or self.api_key))

    def why_unconfigured(self) -> str:
        return "no LLM configured (set REVIEWOPS_LLM_BASE_URL and REVIEWOPS_LLM_MODEL, or REVIEWOPS_MOCK_LLM)"
