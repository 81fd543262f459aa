"""Running the analyzers on one diff, then merging and ranking what they found.

Deterministic analyzers run first; their findings are handed to the LLM-backed ones as context. The
LLM-backed ones run concurrently and share one deadline (`REVIEWOPS_LLM_REVIEW_DEADLINE_SECONDS`): one that
has not finished shortly after it is left behind, so the review is posted with what it has. Every
finding is scrubbed of secrets and checked against the hunks (anything outside the diff is dropped, so
GitHub never answers 422), deduplicated by fingerprint and ranked.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from opentelemetry.trace import Status, StatusCode

from reviewops.analysis.config import CONFIG_PATH, path_included
from reviewops.analysis.diff import hunk_of
from reviewops.analysis.llm.limits import review_deadline
from reviewops.analysis.model import AnalysisContext, Analyzer, ChangedFile, Finding, LLMUsage, Severity
from reviewops.analysis.parallel import side_by_side
from reviewops.credentials.redaction import redact_text
from reviewops.telemetry.metrics import ANALYZER_RUNS, ANALYZER_SECONDS
from reviewops.telemetry.tracing import tracer

log = logging.getLogger(__name__)
DEFAULT_MAX_COMMENTS = 30
MAX_PARALLEL_ANALYZERS = 4
DEADLINE_GRACE_SECONDS = 5.0  # requests end at the deadline; this covers answers being parsed and merged


@dataclass
class ReviewResult:
    findings: list[Finding]  # deduped, ranked, all on commentable lines of the diff
    notes: list[str] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    timings: dict[str, float] = field(default_factory=dict)  # analyzer id -> seconds
    qa_checklist: list[str] = field(default_factory=list)
    dropped: int = 0  # findings removed because they were outside the diff
    llm_summary: str | None = None
    llm_parts: int = 0


def rank_key(finding: Finding) -> tuple[int, str, int, str]:
    return (-int(finding.severity), finding.path, finding.start_line, finding.rule_id)


def _scrub(finding: Finding) -> Finding:
    """No analyzer may echo a secret: message, suggestion and line content pass the redaction gate.

    A suggestion is dropped when it or the flagged line needed any redaction: a redacted suggestion would
    be broken code, and an unredacted one would print the credential (ruff's F541 fix is the whole line).
    """
    path = finding.path
    line_content = redact_text(finding.line_content, path)
    suggestion = finding.suggestion
    if suggestion is not None and (
        line_content != finding.line_content or redact_text(suggestion, path) != suggestion
    ):
        suggestion = None
    return dataclasses.replace(
        finding, message=redact_text(finding.message, path), suggestion=suggestion, line_content=line_content
    )


def place_in_diff(finding: Finding, files: dict[str, ChangedFile]) -> Finding | None:
    """The finding made postable (multi-line ranges kept within one hunk), or None if outside the diff."""
    changed = files.get(finding.path)
    if changed is None or not changed.analyzable or finding.side != "RIGHT":
        return None
    end_hunk = hunk_of(changed, finding.end_line)
    if end_hunk is None:
        return None
    start_hunk = hunk_of(changed, finding.start_line)
    if finding.start_line > finding.end_line or start_hunk is not end_hunk:
        # Keep the comment on its last line; a suggestion for the whole range would now be wrong.
        return dataclasses.replace(finding, start_line=finding.end_line, suggestion=None)
    if any(hunk_of(changed, n) is not end_hunk for n in range(finding.start_line, finding.end_line + 1)):
        return dataclasses.replace(finding, start_line=finding.end_line, suggestion=None)
    return finding


def merge(findings: Iterable[Finding], files: Sequence[ChangedFile]) -> tuple[list[Finding], int]:
    """Placed in the diff, deduped by fingerprint (the most severe copy wins), ranked."""
    by_path = {f.path: f for f in files}
    best: dict[str, Finding] = {}
    dropped = 0
    for raw in findings:
        placed = place_in_diff(_scrub(raw), by_path)
        if placed is None:
            dropped += 1
            continue
        key = placed.fingerprint
        if key not in best or rank_key(placed) < rank_key(best[key]):
            best[key] = placed
    return sorted(best.values(), key=rank_key), dropped


def _run(analyzer: Analyzer, ctx: AnalysisContext, timings: dict[str, float]) -> list[Finding]:
    with tracer().start_as_current_span(
        f"analyzer {analyzer.id}", attributes={"reviewops.analyzer": analyzer.id}
    ) as span:
        started = time.monotonic()
        try:
            found = list(analyzer.analyze(ctx))
            ANALYZER_RUNS.labels(analyzer.id, "ok").inc()
            span.set_attribute("reviewops.findings", len(found))
            return found
        except Exception as exc:
            # One broken analyzer must not cost the review: say so and carry on (the span says it failed).
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            log.exception("analyzer %s failed", analyzer.id)
            ANALYZER_RUNS.labels(analyzer.id, "failed").inc()
            ctx.notes.append(f"Analyzer {analyzer.id} failed and was skipped: {type(exc).__name__}")
            return []
        finally:
            elapsed = time.monotonic() - started
            timings[analyzer.id] = timings.get(analyzer.id, 0.0) + elapsed
            ANALYZER_SECONDS.labels(analyzer.id).observe(elapsed)


def _run_concurrently(
    analyzers: Sequence[Analyzer], ctx: AnalysisContext, timings: dict[str, float]
) -> list[list[Finding]]:
    """The deterministic analyzers side by side (the linters mostly wait on their subprocesses), each in
    a copy of the caller's context so its span stays a child of the review's; results in registry order."""
    return side_by_side(lambda a: _run(a, ctx, timings), analyzers, MAX_PARALLEL_ANALYZERS, "analyzer")


def run_review(ctx: AnalysisContext, analyzers: Sequence[Analyzer]) -> ReviewResult:
    """Run every analyzer on the included files; LLM-backed ones last, with the others' findings."""
    for error in ctx.config.errors:
        ctx.notes.append(f"{CONFIG_PATH}: {error} (default used)")
    included = [f for f in ctx.files if path_included(ctx.config, f.path)]
    if len(included) < len(ctx.files):
        ctx.notes.append(f"{len(ctx.files) - len(included)} files excluded by {CONFIG_PATH}.")
    unanalyzable = [f.path for f in included if f.patch is None and f.status != "removed"]
    if unanalyzable:
        shown = ", ".join(unanalyzable[:10]) + (" ..." if len(unanalyzable) > 10 else "")
        ctx.notes.append(f"Not analyzed (binary or too large for a diff): {shown}")
    scoped = dataclasses.replace(ctx, files=included)  # shares notes and usage with ctx
    timings: dict[str, float] = {}
    deterministic = [a for a in analyzers if not getattr(a, "uses_llm", False)]
    llm_backed = [a for a in analyzers if getattr(a, "uses_llm", False)]
    found: list[Finding] = []
    for batch in _run_concurrently(deterministic, scoped, timings):
        found.extend(batch)
    prior, _ = merge(found, included)
    scoped.prior_findings = prior
    ctx.prior_findings = prior
    found.extend(_run_llm_backed(llm_backed, scoped, timings))
    findings, dropped = merge(found, included)
    if dropped:
        log.info("%d findings outside the diff dropped", dropped)
    # Analyzers wrote their side results on the scoped copy; the caller's context sees them too.
    ctx.llm_summary, ctx.qa_checklist = scoped.llm_summary, scoped.qa_checklist
    ctx.qa_checklist_source = scoped.qa_checklist_source
    checklist = scoped.qa_checklist
    return ReviewResult(
        findings=findings,
        notes=list(ctx.notes),
        usage=ctx.usage,
        timings=timings,
        qa_checklist=list(checklist or []),
        dropped=dropped,
        llm_summary=scoped.llm_summary,
        llm_parts=scoped.llm_parts,
    )


def _run_llm_backed(
    analyzers: Sequence[Analyzer], ctx: AnalysisContext, timings: dict[str, float]
) -> list[Finding]:
    """The LLM-backed analyzers side by side under one deadline; ones still running after it are left out."""
    if not analyzers:
        return []
    seconds = max(getattr(getattr(a, "settings", None), "review_deadline_seconds", 120.0) for a in analyzers)
    deadline = review_deadline(ctx, seconds)
    pool = ThreadPoolExecutor(max_workers=len(analyzers), thread_name_prefix="llm-analyzer")
    futures = {pool.submit(contextvars.copy_context().run, _run, a, ctx, timings): a for a in analyzers}
    done, _late = wait(futures, timeout=deadline.remaining() + DEADLINE_GRACE_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    found: list[Finding] = []
    for future, analyzer in futures.items():
        if future in done:
            found.extend(future.result())
        else:
            ANALYZER_RUNS.labels(analyzer.id, "deadline").inc()
            log.warning("analyzer %s still running at the review deadline; posting without it", analyzer.id)
            ctx.notes.append(
                f"Analyzer {analyzer.id} did not finish within the LLM deadline of {seconds:g}s; posted without it."
            )
    return found


def select_for_posting(
    findings: Sequence[Finding],
    threshold: Severity,
    already_posted: set[str],
    max_comments: int = DEFAULT_MAX_COMMENTS,
) -> tuple[list[Finding], list[Finding]]:
    """(inline, overflow): at or above `threshold`, not posted on an earlier head, ranked; the first
    `max_comments` go inline, the rest to check-run annotations."""
    eligible = [
        f for f in sorted(findings, key=rank_key)
        if f.severity >= threshold and f.fingerprint not in already_posted
    ]  # fmt: skip
    seen: set[str] = set()
    unique = []
    for finding in eligible:
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            unique.append(finding)
    limit = max(0, max_comments)
    return unique[:limit], unique[limit:]
