"""Database reads and writes of the review pipeline (reviews, findings, usage_daily)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewops.analysis.model import Finding
from reviewops.analysis.redaction import needs_redaction, redact_text
from reviewops.db.models import Finding as FindingRow
from reviewops.db.models import Review, ReviewStatus
from reviewops.db.types import utcnow

ACTIVE = (ReviewStatus.PENDING.value, ReviewStatus.RUNNING.value, ReviewStatus.DELAYED.value)


def newer_review(session: Session, review: Review) -> Review | None:
    """A later review of the same PR for another head that is still to run: it supersedes this one."""
    return session.execute(
        select(Review)
        .where(
            Review.repository == review.repository,
            Review.pr_number == review.pr_number,
            Review.id > review.id,
            Review.head_sha != review.head_sha,
            Review.status.in_(ACTIVE),
        )
        .order_by(Review.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def posted_fingerprints(session: Session, review: Review) -> set[str]:
    """Fingerprints already posted on this PR by earlier reviews (any head)."""
    rows = session.execute(
        select(FindingRow.fingerprint)
        .join(Review, FindingRow.review_id == Review.id)
        .where(
            Review.repository == review.repository,
            Review.pr_number == review.pr_number,
            Review.id != review.id,
            FindingRow.posted.is_(True),
        )
    ).scalars()
    return set(rows)


def previous_summary_comment(session: Session, review: Review) -> int | None:
    return session.execute(
        select(Review.summary_comment_id)
        .where(
            Review.repository == review.repository,
            Review.pr_number == review.pr_number,
            Review.summary_comment_id.is_not(None),
        )
        .order_by(Review.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def store_findings(session: Session, review: Review, findings: Iterable[Finding], posted: set[str]) -> int:
    count = 0
    for f in findings:
        session.add(
            FindingRow(
                review_id=review.id, analyzer=f.analyzer[:64], rule_id=f.rule_id[:128], path=f.path[:1024],
                start_line=f.start_line, end_line=f.end_line, side=f.side, severity=f.severity.label,
                message=redact_text(f.message, f.path),
                suggestion=None if f.suggestion is None or needs_redaction(f.suggestion, f.path) else f.suggestion,
                fingerprint=f.fingerprint,
                posted=f.fingerprint in posted, created_at=utcnow(),
            )
        )  # fmt: skip
        count += 1
    return count
