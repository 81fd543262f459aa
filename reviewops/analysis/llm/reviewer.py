"""`llm`: an LLM reviewer over any OpenAI-compatible endpoint, fed the diff (packed into a token budget)
and the deterministic findings, answering structured JSON that is validated before it becomes findings.

Anything the model says about lines outside the diff is dropped; any failure becomes a note
("LLM review skipped: <reason>") and the review goes on with the deterministic findings.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from reviewops.analysis.diff import hunk_of, line_text
from reviewops.analysis.llm.client import LLMSkipped, chat_json, estimate_tokens
from reviewops.analysis.llm.packing import Packed, pack
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, Severity
from reviewops.credentials.detect import redact_line
from reviewops.credentials.redaction import redact_text

log = logging.getLogger(__name__)

CATEGORIES = ("bug", "security", "performance", "error-handling", "concurrency", "maintainability", "tests",
              "docs", "style")  # fmt: skip
MAX_BODY_CHARS = 3000
MAX_PRIOR = 50
MAX_LISTED = 20

SYSTEM_PROMPT = f"""You are ReviewOps, a careful senior engineer reviewing a pull request.
Comment only on lines marked '+' (added). Report real problems: bugs, security holes, missing error
handling, concurrency, performance, maintainability. No praise, no formatting nits, and do not repeat the
findings listed as already reported. Line numbers are the numbers printed before '+' and ' ' lines.
Answer with exactly one JSON object and nothing else:
{{"findings": [{{"path": "<file>", "line": <number>, "end_line": <number or null>,
  "severity": "info|warning|error", "category": "{"|".join(CATEGORIES)}",
  "message": "<what is wrong and why, one short paragraph>",
  "suggestion": "<replacement text for lines line..end_line, or null>"}}],
 "summary": "<two sentences on the change as a whole>"}}
Return {{"findings": [], "summary": "..."}} when nothing is worth saying."""


class LLMComment(BaseModel):
    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    severity: Literal["info", "warning", "error"] = "warning"
    category: str = "bug"
    message: str = Field(min_length=1, max_length=4000)
    suggestion: str | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> str:
        text = str(value or "").lower().replace("_", "-").replace(" ", "-")
        return text if text in CATEGORIES else "general"


class LLMReview(BaseModel):
    findings: list[Any]
    summary: str = ""


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    return shown + (f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else "")


def _prior(findings: list[Finding]) -> str:
    if not findings:
        return "Already reported by deterministic checks: nothing."
    rows = [f"- {f.path}:{f.start_line} [{f.rule_id}] {f.message[:200]}" for f in findings[:MAX_PRIOR]]
    more = f"\n- ... and {len(findings) - MAX_PRIOR} more" if len(findings) > MAX_PRIOR else ""
    return "Already reported by deterministic checks (do not repeat):\n" + "\n".join(rows) + more


def _header(ctx: AnalysisContext) -> str:
    body = "\n".join(redact_line("PR.md", line) for line in ctx.body[:MAX_BODY_CHARS].splitlines())
    title = redact_line("PR.md", ctx.title)
    return f"Pull request: {title}\n\nDescription:\n{body or '(none)'}\n\n{_prior(ctx.prior_findings)}"


def mock_answer(packed: Packed) -> str:
    """Deterministic canned review: one info comment on the first added line of each reviewed file."""
    findings = []
    for changed in packed.files:
        added = changed.added_lines()
        if not added:
            continue
        first = min(added)
        findings.append({
            "path": changed.path, "line": first, "severity": "info", "category": "maintainability",
            "message": f"[mock LLM] {changed.path} changes {changed.additions + changed.deletions} lines; "
                       "check that this change is covered by a test.",
        })  # fmt: skip
    return json.dumps({"findings": findings, "summary": f"[mock LLM] Reviewed {len(packed.files)} files."})


class LLMAnalyzer:
    id = "llm"
    uses_llm = True

    def __init__(self, settings: LLMSettings | None = None) -> None:
        self.settings = settings or LLMSettings()

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        if not ctx.llm_allowed:
            reason = ctx.llm_skip_reason or "disabled for this review"
            ctx.notes.append(f"LLM review skipped: {reason}")
            return []
        if not self.settings.configured:
            ctx.notes.append(f"LLM review skipped: {self.settings.why_unconfigured()}")
            return []
        header = _header(ctx)
        budget = self.settings.max_input_tokens - estimate_tokens(SYSTEM_PROMPT) - estimate_tokens(header)
        packed = pack(list(ctx.files), ctx.config, max(budget, 0))
        if packed.left_out:
            ctx.notes.append(
                f"Not reviewed by the LLM (token budget of {self.settings.max_input_tokens}): "
                f"{_listing(packed.left_out)}"
            )
        if not packed.files:
            if not packed.left_out:
                ctx.notes.append("LLM review skipped: no reviewable text changes")
            return []
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": header + "\n\nChanged files:\n\n" + "\n\n".join(packed.rendered)},
        ]
        try:
            answer = chat_json(
                self.settings, messages, LLMReview, ctx.usage, mock=lambda: mock_answer(packed)
            )
        except LLMSkipped as exc:
            ctx.notes.append(f"LLM review skipped: {exc}")
            return []
        if answer.summary:
            ctx.llm_summary = redact_line("summary.md", answer.summary.strip())
        return self._findings(ctx, packed, answer)

    def _findings(self, ctx: AnalysisContext, packed: Packed, answer: LLMReview) -> list[Finding]:
        by_path = {f.path: f for f in packed.files}
        out: list[Finding] = []
        invalid = outside = 0
        for item in answer.findings:
            try:
                comment = LLMComment.model_validate(item)
            except ValidationError:
                invalid += 1
                continue
            finding = _to_finding(comment, by_path.get(comment.path))
            if finding is None:
                outside += 1
            else:
                out.append(finding)
        if invalid or outside:
            log.info("llm comments dropped: %d outside the diff, %d malformed", outside, invalid)
            ctx.notes.append(
                f"LLM review: dropped {invalid + outside} comments "
                f"({outside} outside the diff, {invalid} malformed)."
            )
        return out


def _scrub(path: str, text: str) -> str:
    return redact_text(text, path)


def _to_finding(comment: LLMComment, changed: ChangedFile | None) -> Finding | None:
    if changed is None:
        return None
    start = comment.line
    text = line_text(changed, start)
    if text is None:
        return None
    end = comment.end_line or start
    suggestion = comment.suggestion
    hunk = hunk_of(changed, start)
    if end < start or hunk is None or hunk_of(changed, end) is not hunk:
        end, suggestion = start, None  # a range GitHub would reject: comment on the first line only
    return Finding(
        analyzer="llm",
        rule_id=f"llm/{comment.category}",
        path=changed.path,
        start_line=start,
        end_line=end,
        severity=Severity.parse(comment.severity),
        message=_scrub(changed.path, comment.message.strip()),
        suggestion=_scrub(changed.path, suggestion) if suggestion is not None else None,
        line_content=text,
    )
