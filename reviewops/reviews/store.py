"""Database reads and writes of the review lifecycle (reviews, findings, usage_daily).

A review touches the database at its claim, at the GitHub objects it creates (saved at once, for
idempotency), once before posting (history: what earlier reviews of the PR posted) and once to record
the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewops.analysis.model import Finding, LLMUsage
from reviewops.credentials.redaction import needs_redaction, redact_text
from reviewops.db.models import REVIEW_FINISHED, Repository, Review, ReviewStatus, Tenant, TenantStatus
from reviewops.db.models import Finding as FindingRow
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.errors import PermanentError
from reviewops.ratelimit.reviews import NOTES_KEY
from reviewops.reviews.dismissals import suppressed_fingerprints
from reviewops.reviews.selection import Selection
from reviewops.tenancy.usage import add_usage

ACTIVE = (ReviewStatus.PENDING, ReviewStatus.RUNNING, ReviewStatus.DELAYED)
FULL_REVIEW_TRIGGER = "command:review-full"  # set by reviewops.deliveries.handlers.comments (/review full)


@dataclass(frozen=True)
class ClaimedReview:
    """A review marked running, with what the rest of the run needs of its tenant (read once, here)."""

    review: Review  # detached from its session: read its fields, write through `save`
    installation_id: int
    tenant_settings: dict[str, Any]


@dataclass(frozen=True)
class PreviousSummary:
    """Where the PR's summary lives now: a review body (`review`) or an older version's issue comment."""

    kind: str  # "review" | "comment"
    id: int


@dataclass(frozen=True)
class History:
    """What earlier reviews of the same PR left, read right before posting."""

    superseded: bool  # a newer head is queued: this review must not post
    full: bool  # `/review full`: post everything again
    posted_fingerprints: set[str]  # empty for `/review full`, which posts everything again
    summary: PreviousSummary | None  # where the PR's summary lives (a review body or an older comment)
    suppressed: set[str]  # fingerprints the team dismissed in this repository (/reviewops ignore)


def claim(db: Database, review_id: int) -> ClaimedReview | ReviewStatus:
    """Mark the review running, or say why it will not run (its final status)."""
    with db.session() as session:
        review = session.get(Review, review_id, with_for_update=True)
        if review is None:
            raise PermanentError(f"review {review_id} does not exist")
        if review.status in REVIEW_FINISHED:
            return ReviewStatus(review.status)
        if newer_review(session, review) is not None:
            return _finish(review, ReviewStatus.SUPERSEDED, "a newer push of the PR is queued")
        tenant = session.get(Tenant, review.tenant_id) if review.tenant_id else None
        if tenant is None:
            return _finish(review, ReviewStatus.SKIPPED, "no GitHub App installation")
        if tenant.status != TenantStatus.ACTIVE:
            return _finish(review, ReviewStatus.SKIPPED, f"installation {tenant.status}")
        repo = session.execute(
            select(Repository).where(
                Repository.tenant_id == tenant.id, Repository.full_name == review.repository
            )
        ).scalar_one_or_none()
        if repo is not None and repo.paused:
            return _finish(review, ReviewStatus.SKIPPED, "reviews paused for this repository")
        review.status = ReviewStatus.RUNNING
        review.started_at = review.started_at or utcnow()
        session.flush()
        session.expunge(review)
        return ClaimedReview(review, tenant.installation_id, dict(tenant.settings or {}))


def _finish(review: Review, status: ReviewStatus, reason: str) -> ReviewStatus:
    review.status = status
    review.status_reason = reason
    review.finished_at = utcnow()
    return status


def finish(db: Database, review_id: int, status: ReviewStatus, reason: str) -> None:
    """End a review that will not complete (superseded while running, failed for good)."""
    with db.session() as session:
        row = session.get(Review, review_id)
        if row is not None:
            _finish(row, status, reason)


def save(db: Database, review_id: int, **values: Any) -> None:
    """Write fields of the review row now, in their own transaction (GitHub object ids, the head SHA)."""
    with db.session() as session:
        row = session.get(Review, review_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


def history(db: Database, review: Review) -> History:
    """One read before posting; a newer head found now marks this review superseded."""
    with db.session() as session:
        row = session.get(Review, review.id)
        assert row is not None
        if newer_review(session, row) is not None:
            _finish(row, ReviewStatus.SUPERSEDED, "a newer push of the PR is queued")
            return History(True, False, set(), None, set())
        full = row.trigger == FULL_REVIEW_TRIGGER
        posted = set() if full else posted_fingerprints(session, row)
        suppressed = suppressed_fingerprints(session, row.tenant_id, row.repository)
        return History(False, full, posted, previous_summary(session, row), suppressed)


def complete(
    db: Database, review_id: int, sel: Selection, usage: LLMUsage, timings: dict[str, float], notes: list[str]
) -> None:
    """Record the outcome: findings, counts, tokens (usage_daily), timings and notes, status completed."""
    with db.session() as session:
        row = session.get(Review, review_id)
        assert row is not None
        row.findings_count = store_findings(session, row, sel.findings, sel.posted)
        row.posted_count = len(sel.posted)
        row.llm_prompt_tokens = int(usage.prompt_tokens)
        row.llm_completion_tokens = int(usage.completion_tokens)
        # The notes stay with the review: the REST API shows them after the summary comment did.
        row.timings = {**{k: round(v, 4) for k, v in timings.items()}, NOTES_KEY: list(notes)}
        row.finished_at = utcnow()
        row.duration_seconds = (row.finished_at - (row.started_at or row.finished_at)).total_seconds()
        row.status = ReviewStatus.COMPLETED
        row.status_reason = None
        if row.tenant_id is not None:
            # The review itself was counted when it was recorded (see deliveries.handlers.pull_request).
            add_usage(
                session, row.tenant_id, prompt_tokens=row.llm_prompt_tokens,
                completion_tokens=row.llm_completion_tokens,
            )  # fmt: skip


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


def previous_summary(session: Session, review: Review) -> PreviousSummary | None:
    """The newest earlier review of the PR that posted a summary: an issue comment (older versions, which
    also posted a separate review) or, since the summary moved into it, the review itself."""
    row = session.execute(
        select(Review.summary_comment_id, Review.github_review_id)
        .where(
            Review.repository == review.repository,
            Review.pr_number == review.pr_number,
            Review.id != review.id,
            (Review.summary_comment_id.is_not(None)) | (Review.github_review_id.is_not(None)),
        )
        .order_by(Review.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    comment_id, review_id = row
    if comment_id is not None:
        return PreviousSummary("comment", int(comment_id))
    assert review_id is not None  # the query asks for one of the two
    return PreviousSummary("review", int(review_id))


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
