"""What the pipeline sends to GitHub: inline comments, annotations, check-run output, the summary comment.

Nothing here ever includes a finding's `line_content`, and findings of the `secrets` analyzer are scrubbed
of anything that looks like the flagged value, so a credential is never echoed back to GitHub.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from reviewops.analysis.model import ChangedFile, Finding, Severity
from reviewops.credentials.redaction import redact_text

SUMMARY_MARKER = "<!-- reviewops:summary -->"
CHECK_RUN_NAME = "ReviewOps"
REDACTED = "[redacted]"
_TOKEN_SPLIT = re.compile(r"[\s'\"`=:,;()\[\]{}<>]+")
ANNOTATION_LEVEL = {Severity.ERROR: "failure", Severity.WARNING: "warning", Severity.INFO: "notice"}
ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


_FINDING_MARKER = re.compile(r"<!-- reviewops:finding:([0-9a-f]{8,64}) -->")


def finding_marker(fingerprint: str) -> str:
    """Hidden in each inline comment, so a reply (`/reviewops ignore`) can name the finding it answers."""
    return f"<!-- reviewops:finding:{fingerprint} -->"


def fingerprint_in(body: str) -> str | None:
    match = _FINDING_MARKER.search(body)
    return match.group(1) if match else None


def review_marker(review_id: int) -> str:
    return f"<!-- reviewops:review:{review_id} -->"


def is_secret(finding: Finding) -> bool:
    return finding.analyzer == "secrets" or finding.rule_id.startswith("secret")


def scrub(text: str, finding: Finding) -> str:
    """Remove any token of the flagged line (8+ characters) from text about a secret finding."""
    if not is_secret(finding) or not text:
        return text
    for token in sorted(set(_TOKEN_SPLIT.split(finding.line_content)), key=len, reverse=True):
        if len(token) >= 8:
            text = text.replace(token, REDACTED)
    return text


def inline_comment(finding: Finding, file: ChangedFile) -> dict[str, Any] | None:
    """The review comment for a finding, or None when GitHub would not accept its line (outside the diff).

    A range is kept only when all its lines sit in one hunk; otherwise the comment goes on the last line
    and any suggestion is dropped (it would replace the wrong lines).
    """
    allowed = lines_on_side(file, finding.side)
    if finding.end_line not in allowed:
        return None
    message = scrub(finding.message, finding)
    body = f"{ICON[finding.severity]} **{finding.severity.label}** · `{finding.rule_id}`\n\n{message}"
    comment: dict[str, Any] = {"path": file.path, "line": finding.end_line, "side": finding.side}
    span = range(finding.start_line, finding.end_line + 1)
    same_hunk = any(all(n in hunk_lines(h, finding.side) for n in span) for h in file.hunks)
    if finding.start_line < finding.end_line and same_hunk:
        comment.update(start_line=finding.start_line, start_side=finding.side)
    whole_span = finding.start_line == finding.end_line or "start_line" in comment
    if finding.suggestion is not None and not is_secret(finding) and whole_span:
        body += f"\n\n```suggestion\n{finding.suggestion.rstrip(chr(10))}\n```"
    comment["body"] = redact_text(body, file.path) + "\n\n" + finding_marker(finding.fingerprint)
    return comment


def hunk_lines(hunk: Any, side: str) -> set[int]:
    if side == "LEFT":
        return set(hunk.removed)
    return set(hunk.added) | set(hunk.context)


def lines_on_side(file: ChangedFile, side: str) -> set[int]:
    if side == "LEFT":
        return {n for h in file.hunks for n in h.removed}
    return file.commentable_lines()


def annotation(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "start_line": finding.start_line,
        "end_line": finding.end_line,
        "annotation_level": ANNOTATION_LEVEL[finding.severity],
        "title": finding.rule_id[:255],
        "message": redact_text(scrub(finding.message, finding), finding.path)[:64000],
    }


def conclusion(findings: Iterable[Finding], threshold: Severity) -> str:
    """failure on any error; neutral when something at or above the threshold; success otherwise."""
    severities = [f.severity for f in findings]
    if Severity.ERROR in severities:
        return "failure"
    if any(s >= threshold for s in severities):
        return "neutral"
    return "success"


def counts_line(findings: Sequence[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True) if counts[s]]
    return ", ".join(parts) if parts else "no findings"


def check_output(findings: Sequence[Finding], new_count: int, notes: Sequence[str]) -> dict[str, Any]:
    summary = f"{counts_line(findings)} on the changed lines; {new_count} new posted on this push."
    if notes:
        summary += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return {"title": f"ReviewOps: {counts_line(findings)}", "summary": redact_text(summary)[:65000]}


def summary_body(
    *,
    head_sha: str,
    findings: Sequence[Finding],
    inline: int,
    annotations: int,
    already_posted: int,
    below_threshold: int,
    threshold: Severity,
    notes: Sequence[str],
    qa_checklist: Any = None,
    suppressed: int = 0,
) -> str:
    """The one summary comment per PR, edited in place on every push (found again by its marker)."""
    lines = [
        SUMMARY_MARKER,
        "## ReviewOps review",
        "",
        f"Reviewed `{head_sha[:12]}`: {counts_line(findings)}.",
        "",
        f"- {inline} inline comment(s) and {annotations} check-run annotation(s) posted on this push",
        f"- {already_posted} finding(s) already posted on an earlier push (not repeated)",
        f"- {below_threshold} finding(s) below the `{threshold.label}` threshold (stored, not posted)",
    ]
    if suppressed:
        lines.append(f"- {suppressed} finding(s) suppressed by the team (`/reviewops ignore`; not posted)")
    if notes:
        lines += ["", "### Notes", *[f"- {n}" for n in notes]]
    items = _checklist_items(qa_checklist)
    if items:
        lines += ["", "### QA checklist", *[f"- [ ] {item}" for item in items]]
    return redact_text("\n".join(lines))[:65000]


def _checklist_items(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [line.strip("-*[] ").strip() for line in value.splitlines() if line.strip()]
    try:
        return [str(getattr(item, "text", item)) for item in value]
    except TypeError:  # a single object: its text
        return [str(getattr(value, "text", value))]
