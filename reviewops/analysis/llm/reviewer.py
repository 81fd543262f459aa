"""`llm`: an LLM reviewer over any OpenAI-compatible endpoint, fed the diff (in parts that fit the model's
context window) and the deterministic findings, answering schema-bound JSON validated before it becomes findings.

Parts are reviewed concurrently (bounded), within the review's deadline; a part the endpoint finds too long
is split smaller at once. Findings of all parts are merged and de-duplicated. Anything the model says about
lines outside the diff is dropped, and the notes say what was reviewed, in how many parts, and what was not
and why ("LLM review skipped: <reason>" when nothing could be reviewed).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from reviewops.analysis.diff import hunk_of, line_text
from reviewops.analysis.llm import forms
from reviewops.analysis.llm.client import ContextExceeded, LLMSkipped, chat_json
from reviewops.analysis.llm.limits import (
    DEFAULT_CONTEXT_TOKENS,
    PROMPT_MARGIN_TOKENS,
    Deadline,
    context_tokens,
    estimate_tokens,
    remember_context,
    review_deadline,
)  # fmt: skip
from reviewops.analysis.llm.packing import Part, Plan, plan, split_part
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, Severity
from reviewops.analysis.parallel import side_by_side
from reviewops.credentials.detect import redact_line
from reviewops.credentials.redaction import redact_text

log = logging.getLogger(__name__)

CATEGORIES = ("bug", "security", "performance", "error-handling", "concurrency", "maintainability", "tests",
              "docs", "style", "general")  # fmt: skip
MAX_BODY_CHARS = 3000
MAX_PRIOR = 50
MAX_LISTED = 20
MAX_FINDINGS_PER_PART = 4
MAX_SPLITS = 3  # a part found too long is split at most this many times over

SYSTEM_PROMPT = """You are ReviewOps, a careful senior engineer reviewing a pull request.
Comment only on lines marked '+' (added). Report real problems: bugs, security holes, missing error
handling, concurrency, performance, maintainability. No praise, no formatting nits, and do not repeat the
findings listed as already reported. Line numbers are the numbers printed before '+' and ' ' lines;
"path" is the file name after '###'. Report at most 4 findings, the most important first; give an empty
"findings" list when nothing is worth saying, and a two-sentence "summary" of the change."""


class LLMComment(BaseModel):
    path: str = Field(min_length=1, max_length=200)
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    severity: Literal["info", "warning", "error"] = "warning"
    category: Literal[CATEGORIES] = "bug"  # type: ignore[valid-type]
    message: str = Field(min_length=1, max_length=300)
    suggestion: str | None = Field(default=None, max_length=300)

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> str:
        text = str(value or "").lower().replace("_", "-").replace(" ", "-")
        return text if text in CATEGORIES else "general"

    @field_validator("message", "suggestion", mode="before")
    @classmethod
    def _shorten(cls, value: object) -> object:
        """Longer text than the schema allows is shortened, not refused (plain-mode models overrun)."""
        return value[:300] if isinstance(value, str) else value


class LLMReview(BaseModel):
    findings: list[LLMComment] = Field(max_length=MAX_FINDINGS_PER_PART)
    summary: str = Field(default="", max_length=240)

    @field_validator("summary", mode="before")
    @classmethod
    def _shorten(cls, value: object) -> object:
        return value[:240] if isinstance(value, str) else value

    @field_validator("findings", mode="before")
    @classmethod
    def _most(cls, value: object) -> object:
        return value[:MAX_FINDINGS_PER_PART] if isinstance(value, list) else value


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


def mock_answer(part: Part | Plan) -> str:
    """Deterministic canned review: one info comment on the first added line of each reviewed file."""
    findings = []
    for changed in part.files:
        added = changed.added_lines()
        if not added:
            continue
        first = min(added)
        findings.append({
            "path": changed.path, "line": first, "severity": "info", "category": "maintainability",
            "message": f"[mock LLM] {changed.path} changes {changed.additions + changed.deletions} lines; "
                       "check that this change is covered by a test.",
        })  # fmt: skip
    return json.dumps({"findings": findings[:MAX_FINDINGS_PER_PART],
                       "summary": f"[mock LLM] Reviewed {len(part.files)} files."})  # fmt: skip


@dataclass
class _Outcome:
    """What the parts of one review came to: answers, parts asked, and what was not reviewed and why."""

    answers: list[tuple[Part, LLMReview]] = field(default_factory=list)
    failed: list[tuple[list[str], str]] = field(default_factory=list)
    context: str | None = None  # the endpoint's "context length exceeded" words, when it said so
    parts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, parts: int) -> None:
        with self.lock:
            self.parts += parts


class LLMAnalyzer:
    id = "llm"
    uses_llm = True

    def __init__(self, settings: LLMSettings | None = None) -> None:
        self.settings = settings or LLMSettings()

    def _budget(self, ctx: AnalysisContext, header: str) -> tuple[int, int]:
        """(tokens of diff per part, context window planned with)."""
        settings = self.settings
        key = forms.endpoint_key(settings.base_url, settings.model)
        if settings.mock:
            window = settings.context_tokens or DEFAULT_CONTEXT_TOKENS
        else:
            window = context_tokens(settings.context_tokens, key, settings.api_key, settings.timeout_seconds)
        schema = LLMReview.model_json_schema()
        answer = forms.answer_tokens(schema, settings.max_answer_tokens)
        fixed = estimate_tokens(SYSTEM_PROMPT + forms.schema_instruction(schema) + header) + 16
        prompt = min(settings.max_input_tokens, window - answer - PROMPT_MARGIN_TOKENS)
        return prompt - fixed, window

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        if not ctx.llm_allowed:
            reason = ctx.llm_skip_reason or "disabled for this review"
            ctx.notes.append(f"LLM review skipped: {reason}")
            return []
        if not self.settings.configured:
            ctx.notes.append(f"LLM review skipped: {self.settings.why_unconfigured()}")
            return []
        deadline = review_deadline(ctx, self.settings.review_deadline_seconds)
        header = _header(ctx)
        budget, window = self._budget(ctx, header)
        planned = plan(list(ctx.files), ctx.config, budget, self.settings.max_parts)
        if planned.left_out:
            why = (f"the context window of {window:,} tokens leaves no room for code" if not planned.parts
                   else f"more than {self.settings.max_parts} parts")  # fmt: skip
            ctx.notes.append(f"Not reviewed by the LLM ({why}): {_listing(planned.left_out)}")
        if not planned.parts:
            if not planned.left_out:
                ctx.notes.append("LLM review skipped: no reviewable text changes")
            return []
        outcome = self._review_parts(ctx, header, planned.parts, deadline)
        self._notes(ctx, outcome, planned, window)
        summaries = [a.summary.strip() for _p, a in outcome.answers if a.summary.strip()]
        if summaries:
            ctx.llm_summary = redact_line("summary.md", " ".join(summaries)[:1000])
        ctx.llm_parts = outcome.parts
        findings: list[Finding] = []
        outside = 0
        for part, answer in outcome.answers:
            found, dropped = _part_findings(part, answer)
            findings.extend(found)
            outside += dropped
        if outside:
            log.info("llm comments dropped: %d outside the diff", outside)
            ctx.notes.append(f"LLM review: dropped {outside} comments outside the diff.")
        unique = {(f.fingerprint, f.start_line): f for f in findings}
        return list(unique.values())

    def _review_parts(
        self, ctx: AnalysisContext, header: str, parts: list[Part], deadline: Deadline
    ) -> _Outcome:
        outcome = _Outcome()
        side_by_side(lambda part: self._review_part(ctx, header, part, deadline, outcome, 0), parts,
                     self.settings.max_concurrency, "llm-part")  # fmt: skip
        return outcome

    def _review_part(self, ctx: AnalysisContext, header: str, part: Part, deadline: Deadline,
                     outcome: _Outcome, depth: int) -> None:  # fmt: skip
        """Ask about one part; a part the endpoint found too long is split at once and its pieces asked."""
        outcome.add(1)
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": header + "\n\nChanged files:\n\n" + "\n\n".join(part.rendered)},
        ]
        try:
            answer = chat_json(self.settings, messages, LLMReview, ctx.usage,
                               mock=lambda: mock_answer(part), deadline=deadline)  # fmt: skip
        except ContextExceeded as exc:
            outcome.add(-1)
            outcome.context = outcome.context or str(exc)
            limit = exc.error.limit
            if limit is None or depth >= MAX_SPLITS:
                outcome.failed.append((part.paths, str(exc)))
                return
            remember_context(forms.endpoint_key(self.settings.base_url, self.settings.model), limit)
            schema = LLMReview.model_json_schema()
            answer_room = forms.answer_tokens(schema, self.settings.max_answer_tokens)
            fixed = estimate_tokens(messages[0]["content"] + forms.schema_instruction(schema) + header) + 16
            # The endpoint counted `requested` where we estimated less: scale our estimates by its ratio.
            estimated = fixed + part.tokens + answer_room
            factor = max(1.0, (exc.error.requested or estimated) / estimated)
            room = int((limit - answer_room - PROMPT_MARGIN_TOKENS) / factor) - fixed
            budget = min(room, int(part.tokens * limit / (exc.error.requested or limit) / factor) - 1)
            if budget < 64:
                outcome.failed.append((part.paths, str(exc)))
                return
            for smaller in split_part(part, budget):
                self._review_part(ctx, header, smaller, deadline, outcome, depth + 1)
            return
        except LLMSkipped as exc:
            outcome.failed.append((part.paths, str(exc)))
            return
        outcome.answers.append((part, answer))

    def _notes(self, ctx: AnalysisContext, outcome: _Outcome, planned: Plan, window: int) -> None:
        reviewed = {p for part, _a in outcome.answers for p in part.paths}
        if not outcome.answers:
            reasons = list(dict.fromkeys(reason for _paths, reason in outcome.failed))
            ctx.notes.append(f"LLM review skipped: {'; '.join(reasons) or 'no answer'}")
            return
        if outcome.context:
            ctx.notes.append(f"LLM review: {outcome.context}; reviewed in {outcome.parts} parts.")
        elif outcome.parts > 1:
            ctx.notes.append(f"LLM review: the diff was larger than one prompt for the {window:,}-token "
                             f"context window; reviewed in {outcome.parts} parts.")  # fmt: skip
        for paths, reason in outcome.failed:
            partly = [p for p in paths if p in reviewed]
            missed = [p for p in paths if p not in reviewed]
            listed = _listing(missed) + (f" (and parts of {_listing(partly)})" if partly else "")
            if not missed:
                listed = f"parts of {_listing(partly)}"
            ctx.notes.append(f"Not reviewed by the LLM ({reason}): {listed}")


def _part_findings(part: Part, answer: LLMReview) -> tuple[list[Finding], int]:
    """The answer's comments that name lines of the part's files, and how many did not."""
    by_path = {f.path: f for f in part.files}
    out: list[Finding] = []
    for comment in answer.findings:
        finding = _to_finding(comment, by_path.get(comment.path))
        if finding is not None:
            out.append(finding)
    return out, len(answer.findings) - len(out)


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
