"""The one redaction gate: every text that leaves the process passes `redact_text` / `redact_lines`.

Inline comments, suggestion blocks, the summary, check-run annotations, stored findings, log lines, LLM
prompts and the CLI's text/JSON/SARIF all call it (tests/reviewops/analysis/test_redaction_channels.py
checks each). It is deliberately wider than detection: besides every credential the detectors report it
removes every candidate they weighed and dropped (a keyword's token-shaped value, any URL userinfo
password, placeholders included), long high-entropy tokens of no known provider, and whole private-key
blocks from BEGIN to END, over several lines or `\\n`-escaped on one (JSON, .env). Over-redacting a
placeholder costs nothing; printing a missed credential costs a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reviewops.credentials.detect import (
    AWS_SECRET,
    KEYWORD_VALUE,
    PROVIDER_PATTERNS,
    REDACTED,
    URL_USERINFO,
    _betterleaks,
    entropy,
)

PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_B64_RUN = re.compile(r"[A-Za-z0-9+/=]{16,}")
# What may surround a key body line: diff marks, line numbers of a rendered hunk, quotes, YAML indents.
_BODY_REST = re.compile(r"^[\s\d+\-|>\"'`,;]*(?:\\r)?(?:\\n)?[\s\"'`,;\\]*$")
_PEM_HEADER = re.compile(r"^[\s\d+\-|>\"'`]*(?:Proc-Type|DEK-Info|Comment):")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-+/])[A-Za-z0-9_\-+/]{32,}={0,2}(?![A-Za-z0-9_\-+/])")
_TEMPLATE_ONLY = re.compile(
    r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}|%\(\w+\)s)$"
)
_BEARER = re.compile(r"(?i)\b(?:bearer|token|basic)\s+([^\s\"'`,;]{8,})")
_QUERY_SECRET = re.compile(
    r"(?i)[?&;](?:key|api[_-]?key|apikey|token|access[_-]?token|secret|password|passwd|pwd|sig|signature"
    r"|client[_-]?secret)=([^&\s\"'#`]{6,})"
)
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _body_line(text: str) -> re.Match[str] | None:
    """The base64 run of a private-key body line, or None when the line is anything else."""
    run = max(_B64_RUN.finditer(text), key=lambda m: len(m.group(0)), default=None)
    if run is None:
        return None
    rest = text[: run.start()] + text[run.end() :]
    return run if _BODY_REST.match(rest) else None


def _redact_pem(lines: list[str]) -> list[str]:
    """Whole private-key blocks out: one-line (`\\n`-escaped or inline) and multi-line, BEGIN..END."""
    out = list(lines)
    i = 0
    while i < len(out):
        begin = PEM_BEGIN.search(out[i])
        if begin is None:
            i += 1
            continue
        rest = out[i][begin.end() :]
        end = PEM_END.search(rest)
        if end is not None or _B64_RUN.search(rest):
            # Everything from BEGIN to END (or to the end of the line when the block is cut off).
            tail = rest[end.end() :] if end is not None else ""
            body = rest[: end.start()] if end is not None else rest
            if _B64_RUN.search(body):
                out[i] = out[i][: begin.start()] + REDACTED + tail
            i += 1
            continue
        j, body_lines = i + 1, []
        while j < len(out):
            if PEM_END.search(out[j]):
                body_lines.append(j)
                break
            if _PEM_HEADER.match(out[j]) or not out[j].strip() or _body_line(out[j]) is not None:
                body_lines.append(j)
                j += 1
                continue
            break
        if any(_body_line(out[k]) is not None for k in body_lines):
            out[i] = out[i][: begin.start()] + REDACTED + out[i][begin.end() :]
            for k in body_lines:
                run = _body_line(out[k])
                if run is not None:
                    out[k] = out[k][: run.start()] + REDACTED + out[k][run.end() :]
                else:
                    out[k] = PEM_END.sub(REDACTED, out[k])
                    out[k] = re.sub(r"(?:Proc-Type|DEK-Info|Comment):.*", REDACTED, out[k])
        i = max(i + 1, j)
    return out


def _keyword_candidate(value: str) -> bool:
    """A keyword's value the detector weighed: anything token-shaped that is not a template or a name."""
    value = value.rstrip(".:")
    if len(value) < 6 or _TEMPLATE_ONLY.match(value):
        return False
    if _DOTTED_NAME.fullmatch(value) and (not re.search(r"\d", value) or entropy(value) < 3.5):
        return False  # settings.SECRET_KEY, not hvs.<token>
    return bool(re.search(r"\d|[^A-Za-z_]", value)) or entropy(value) >= 3.0


def _high_entropy_token(value: str) -> bool:
    """A long random-looking token of no known provider (hex digests stay: at most 4 bits a character)."""
    has_mix = re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"\d", value)
    return bool(has_mix) and entropy(value) >= 4.2


def candidates(text: str) -> set[str]:
    """Every value the gate removes from `text` (multi-line values come back whole)."""
    found: set[str] = {value for _rule, value, _line in _betterleaks(text)}
    for line in text.split("\n"):
        found.update(m.group("value") for m in AWS_SECRET.finditer(line))
        found.update(m.group(0) for _kind, pattern in PROVIDER_PATTERNS for m in pattern.finditer(line))
        found.update(m.group(1) for m in _BEARER.finditer(line) if re.search(r"\d", m.group(1)))
        found.update(m.group(1) for m in _QUERY_SECRET.finditer(line) if _keyword_candidate(m.group(1)))
        for m in KEYWORD_VALUE.finditer(line):
            if _keyword_candidate(m.group("value")):
                found.add(m.group("value").rstrip(".:"))
        for m in URL_USERINFO.finditer(line):
            if not _TEMPLATE_ONLY.match(m.group("value")) and m.group("value") != REDACTED:
                found.add(m.group("value"))
        found.update(m.group(0) for m in _TOKEN.finditer(line) if _high_entropy_token(m.group(0)))
    found.discard(REDACTED)
    return {v for v in found if len(v) >= 4}


def _parts(value: str) -> list[str]:
    """What to replace for one value: itself, or for a multi-line match only its random-looking runs
    (a rule's match may span ordinary lines between a BEGIN and a later END; those lines stay)."""
    if "\n" not in value:
        return [value] if len(value) >= 4 else []
    runs = [m.group(0) for m in _B64_RUN.finditer(value) if len(m.group(0)) >= 32]
    return [r for r in runs if _high_entropy_token(r) or entropy(r) >= 4.5]


def redact_lines(lines: Sequence[str], path: str = "") -> list[str]:
    """`lines` (same count, same order) with every credential and candidate replaced by [REDACTED].

    `path` is accepted for callers that know the file; the gate is the same for every file type.
    """
    del path
    out = _redact_pem(list(lines))
    values = candidates("\n".join(out))
    if not values:
        return out
    parts = sorted({p for v in values for p in _parts(v)}, key=len, reverse=True)
    cleaned = []
    for line in out:
        for part in parts:
            if part in line:
                line = line.replace(part, REDACTED)
        cleaned.append(line)
    return cleaned


def redact_text(text: str, path: str = "") -> str:
    """`text` through the gate (see the module docstring)."""
    if not text:
        return text
    return "\n".join(redact_lines(text.split("\n"), path))


def needs_redaction(text: str, path: str = "") -> bool:
    return redact_text(text, path) != text
