"""Secrets never reach the logs: a structlog processor that masks tokens, keys and credentials.

Applied to every log line (ours and third-party ones routed through structlog), both to values of
sensitive-looking keys and to secrets embedded anywhere in strings.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

MASK = "[REDACTED]"

# (pattern, replacement): groups kept in the replacement are labels like "Bearer ", never secrets.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
        MASK,
    ),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}\b"), MASK),  # OpenAI-style API keys
    (re.compile(r"\brk_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}\b"), MASK),  # ReviewOps tenant API keys
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),  # JWTs
    (
        re.compile(r"(?i)(\b(?:proxy-)?authorization\b\s*[:=]\s*)(?:(?:bearer|token|basic)\s+)?[^\s,;'\"}]+"),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + MASK),
    (re.compile(r"(://[^:/\s@]+:)[^@/\s]+(@)"), r"\1" + MASK + r"\2"),  # passwords in URLs
    (re.compile(r"(?i)(\bsha256=)[0-9a-f]{64}\b"), r"\1" + MASK),  # webhook signatures
]
_SENSITIVE_KEY = re.compile(
    r"(?i)(authorization|password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|signature|cookie)"
)


def redact_text(text: str) -> str:
    """The log rules above, then the analysis engine's redaction gate (every credential shape it knows)."""
    from reviewops.credentials.redaction import redact_text as gate  # lazy: logging is set up before analysis

    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return gate(text)


def _sensitive(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY.search(key)) and value not in (None, "", 0)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v not in (None, "", 0)
                else _redact(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


SAFE_KEYS = frozenset({"event", "level", "timestamp", "logger", "trace_id", "span_id"})
# Values the logging set-up itself produces (never user text): not worth the gate's ~30 us per string.
GENERATED_KEYS = frozenset({"level", "timestamp", "logger", "trace_id", "span_id"})


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key not in SAFE_KEYS and _sensitive(key, value):
            event_dict[key] = MASK
        elif key not in GENERATED_KEYS:
            event_dict[key] = _redact(value)
    return event_dict
