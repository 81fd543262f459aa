"""Which findings of one head go where: inline comments, check-run annotations, or only the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reviewops.analysis.model import ChangedFile, Finding, Severity
from reviewops.reviews import render


@dataclass
class Selection:
    """How the findings of one head split up for posting."""

    findings: list[Finding]  # deduplicated, every one (stored)
    in_diff: list[Finding]
    inline: list[tuple[Finding, dict[str, Any]]]
    overflow: list[Finding]  # posted as check-run annotations
    already_posted: int = 0
    below_threshold: int = 0
    suppressed: int = 0  # dismissed by the team in this repository (/reviewops ignore)
    posted: set[str] = field(default_factory=set)


def select_for_posting(
    findings: list[Finding],
    files: dict[str, ChangedFile],
    *,
    threshold: Severity,
    already_posted: set[str],
    max_comments: int,
    suppressed: frozenset[str] | set[str] = frozenset(),
) -> Selection:
    """Dedupe by fingerprint, keep only lines GitHub accepts, drop what the team suppressed, was posted
    before or is below the threshold, most severe first; the first `max_comments` go inline, the rest become
    annotations."""
    unique: dict[str, Finding] = {}
    for f in findings:
        unique.setdefault(f.fingerprint, f)
    ordered = sorted(unique.values(), key=lambda f: (-f.severity, f.path, f.start_line, f.rule_id))
    sel = Selection(findings=ordered, in_diff=[], inline=[], overflow=[])
    for f in ordered:
        file = files.get(f.path)
        comment = render.inline_comment(f, file) if file is not None else None
        if comment is None:
            continue  # outside the diff: stored, never sent to GitHub
        sel.in_diff.append(f)
        if f.fingerprint in suppressed:
            sel.suppressed += 1
        elif f.fingerprint in already_posted:
            sel.already_posted += 1
        elif f.severity < threshold:
            sel.below_threshold += 1
        elif len(sel.inline) < max_comments:
            sel.inline.append((f, comment))
        else:
            sel.overflow.append(f)
    sel.posted = {f.fingerprint for f, _ in sel.inline} | {f.fingerprint for f in sel.overflow}
    return sel
