"""Posting one review to GitHub: the check run, one pull-request review, annotations, the summary comment.

Each GitHub object is saved on the review row as soon as it exists (reviewops.reviews.store.save), and a
retry finds it again (by id, or by the marker in its body), so a crash between two writes never
double-posts.
"""

from __future__ import annotations

from reviewops.analysis.model import Severity
from reviewops.db.models import Review
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.github.client import InstallationClient
from reviewops.github.transport import NotFound
from reviewops.reviews import render, store
from reviewops.reviews.selection import Selection
from reviewops.telemetry import metrics


def post_review(
    db: Database, gh: InstallationClient, review: Review, sel: Selection, notes: list[str], threshold: Severity,
    qa_checklist: list[str] | None, previous_summary: int | None,
) -> None:  # fmt: skip
    repo, number, head = review.repository, review.pr_number, review.head_sha
    output = render.check_output(sel.in_diff, len(sel.posted), notes)
    check_run_id = review.check_run_id
    if check_run_id is None:
        run = gh.create_check_run(
            repo, name=render.CHECK_RUN_NAME, head_sha=head, status="in_progress",
            external_id=str(review.id), output=output,
        )  # fmt: skip
        check_run_id = int(run["id"])
        store.save(db, review.id, check_run_id=check_run_id)

    if sel.inline and review.github_review_id is None:
        marker = render.review_marker(review.id)
        existing = next((r for r in gh.list_reviews(repo, number) if marker in (r.get("body") or "")), None)
        if existing is None:
            body = f"{marker}\nReviewOps found {len(sel.inline)} new issue(s) on this push."
            comments = [comment for _, comment in sel.inline]
            existing = gh.create_review(repo, number, commit_id=head, body=body, comments=comments)
        store.save(db, review.id, github_review_id=int(existing["id"]))
        metrics.REVIEW_COMMENTS_POSTED.labels("inline").inc(len(sel.inline))

    if sel.overflow:
        gh.add_annotations(repo, check_run_id, output, [render.annotation(f) for f in sel.overflow])
        metrics.REVIEW_COMMENTS_POSTED.labels("annotation").inc(len(sel.overflow))
    gh.update_check_run(
        repo, check_run_id, status="completed", conclusion=render.conclusion(sel.in_diff, threshold),
        completed_at=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), output=output,
    )  # fmt: skip

    body = render.summary_body(
        head_sha=head, findings=sel.in_diff, inline=len(sel.inline), annotations=len(sel.overflow),
        already_posted=sel.already_posted, below_threshold=sel.below_threshold, threshold=threshold,
        notes=notes, qa_checklist=qa_checklist, suppressed=sel.suppressed,
    )  # fmt: skip
    store.save(db, review.id, summary_comment_id=upsert_summary(gh, repo, number, body, previous_summary))


def upsert_summary(gh: InstallationClient, repo: str, number: int, body: str, known: int | None) -> int:
    """Edit the PR's one summary comment in place; find it by its marker if we lost its id."""
    if known is not None:
        try:
            return int(gh.update_issue_comment(repo, known, body)["id"])
        except NotFound:
            pass  # deleted by someone: fall back to the marker search / a new comment
    found = gh.find_issue_comment(repo, number, render.SUMMARY_MARKER)
    if found is not None:
        return int(gh.update_issue_comment(repo, int(found["id"]), body)["id"])
    return int(gh.create_issue_comment(repo, number, body)["id"])
