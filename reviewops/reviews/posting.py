"""Posting one review to GitHub in two content-creating writes: the check run and one pull-request review.

GitHub caps content-creating requests at 80 per minute and 500 per hour per installation (its secondary
limits), so writes per review decide how many reviews an installation can get: two writes is 40 reviews
a minute at most and 250 an hour. The two writes:

1. the `ReviewOps` check run, created once at its final state (conclusion, output and the first 50
   annotations in the create call). Only when more than 50 findings overflow to annotations do further
   batches of 50 follow as updates: a third write (and more) for those pushes only;
2. the summary, as the body of one pull-request review that also carries the inline comments (each with
   its `<!-- reviewops:finding:FP -->` marker, so dismissals and `GET /pulls/{n}/comments` still find
   them). A push with no new inline comment does not add a review: the PR's previous summary (a review
   body, `PUT .../reviews/{review_id}`, or an issue comment left by an older version, `PATCH`) is
   edited in place, so `/review` and quiet pushes update the summary instead of piling up. An edit is a
   content write too; it replaces the create, so the count stays two.

Each GitHub object is saved on the review row as soon as it exists (reviewops.reviews.store.save), and a
retry finds it again (by id, or by the review marker in its body), so a crash between two writes never
double-posts.
"""

from __future__ import annotations

from typing import Any

from reviewops.analysis.model import Severity
from reviewops.db.models import Review
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.github.client import CHECK_RUN_ANNOTATIONS_PER_REQUEST, InstallationClient
from reviewops.github.transport import NotFound
from reviewops.reviews import render, store
from reviewops.reviews.selection import Selection
from reviewops.reviews.store import PreviousSummary
from reviewops.telemetry import metrics


def post_review(
    db: Database, gh: InstallationClient, review: Review, sel: Selection, notes: list[str], threshold: Severity,
    qa_checklist: list[str] | None, previous: PreviousSummary | None,
) -> None:  # fmt: skip
    if review.check_run_id is None:
        _create_check_run(db, gh, review, sel, notes, threshold)
    if review.github_review_id is None and review.summary_comment_id is None:
        body = render.summary_body(
            head_sha=review.head_sha, findings=sel.in_diff, inline=len(sel.inline), annotations=len(sel.overflow),
            already_posted=sel.already_posted, below_threshold=sel.below_threshold, threshold=threshold,
            notes=notes, qa_checklist=qa_checklist, suppressed=sel.suppressed,
        )  # fmt: skip
        posted = _post_summary(gh, review, sel, f"{render.review_marker(review.id)}\n{body}", previous)
        if posted.kind == "comment":
            store.save(db, review.id, summary_comment_id=posted.id)
        else:
            store.save(db, review.id, github_review_id=posted.id)
        metrics.REVIEW_COMMENTS_POSTED.labels("inline").inc(len(sel.inline))


def _create_check_run(
    db: Database,
    gh: InstallationClient,
    review: Review,
    sel: Selection,
    notes: list[str],
    threshold: Severity,
) -> None:
    """One create at the final state; annotations past the first 50 follow as updates (extra writes)."""
    repo = review.repository
    output = render.check_output(sel.in_diff, len(sel.posted), notes)
    annotations = [render.annotation(f) for f in sel.overflow]
    first, rest = (
        annotations[:CHECK_RUN_ANNOTATIONS_PER_REQUEST],
        annotations[CHECK_RUN_ANNOTATIONS_PER_REQUEST:],
    )
    run = gh.create_check_run(
        repo, name=render.CHECK_RUN_NAME, head_sha=review.head_sha, external_id=str(review.id),
        status="completed", conclusion=render.conclusion(sel.in_diff, threshold),
        completed_at=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        output={**output, "annotations": first} if first else output,
    )  # fmt: skip
    check_run_id = int(run["id"])
    store.save(db, review.id, check_run_id=check_run_id)
    if rest:
        gh.add_annotations(repo, check_run_id, output, rest)
    metrics.REVIEW_COMMENTS_POSTED.labels("annotation").inc(len(annotations))


def _post_summary(
    gh: InstallationClient, review: Review, sel: Selection, body: str, previous: PreviousSummary | None
) -> PreviousSummary:
    """One write: a new review (with the inline comments), or the previous summary edited in place."""
    repo, number = review.repository, review.pr_number
    marker = render.review_marker(review.id)
    listed = gh.list_reviews(repo, number)
    mine = next((r for r in listed if marker in (r.get("body") or "")), None)
    if mine is not None:  # posted (or edited) before a crash: adopt it, write nothing
        return PreviousSummary("review", int(mine["id"]))
    if not sel.inline:
        target = previous or _summary_review(listed)
        if target is not None:
            edited = _edit(gh, repo, number, target, body)
            if edited is not None:
                return edited
    comments = [comment for _, comment in sel.inline]
    created = gh.create_review(repo, number, commit_id=review.head_sha, body=body, comments=comments)
    return PreviousSummary("review", int(created["id"]))


def _summary_review(listed: list[dict[str, Any]]) -> PreviousSummary | None:
    """The newest review of ours carrying a summary (ids lost, e.g. after a database restore)."""
    for item in reversed(listed):
        if (
            render.SUMMARY_MARKER in (item.get("body") or "")
            and (item.get("user") or {}).get("type") == "Bot"
        ):
            return PreviousSummary("review", int(item["id"]))
    return None


def _edit(
    gh: InstallationClient, repo: str, number: int, target: PreviousSummary, body: str
) -> PreviousSummary | None:
    """Edit the summary in place; None when it is gone (deleted by someone): then a new review."""
    try:
        if target.kind == "comment":
            return PreviousSummary("comment", int(gh.update_issue_comment(repo, target.id, body)["id"]))
        return PreviousSummary("review", int(gh.update_review(repo, number, target.id, body)["id"]))
    except NotFound:
        return None
