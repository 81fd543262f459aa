"""What the delivery lifecycle hands to the review lifecycle: run a review by id, answer a PR command,
remember a dismissed finding.

Built once per worker process (`build_review_work`) and passed as one value from the worker to each
delivery's handlers, which schedule it to run after their transaction commits (Context.after_commit).
Without a GitHub App both parts are None: reviews are recorded as skipped and commands get no reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reviewops.db.session import Database
from reviewops.github.client import GitHubApp
from reviewops.redis_client import redis_for
from reviewops.reviews.commands import CommandReply, CommandResponder
from reviewops.reviews.dismissals import Dismissal, Dismisser
from reviewops.reviews.engine import ReviewDeps, default_deps
from reviewops.reviews.runner import ReviewRunner
from reviewops.settings import Settings


@dataclass(frozen=True)
class ReviewWork:
    """The kinds of follow-up work a delivery can cause; tests pass their own callables."""

    run_review: Callable[[int], object] | None = None
    reply: Callable[[CommandReply], object] | None = None
    dismiss: Callable[[Dismissal], object] | None = None


def build_review_runner(
    settings: Settings, db: Database, deps: ReviewDeps | None = None
) -> ReviewRunner | None:
    """The review runner, when a GitHub App is configured (else reviews are recorded as skipped)."""
    if not settings.github_app_configured:
        return None
    client = redis_for(settings)
    app = GitHubApp.from_settings(settings, redis_client=client)
    return ReviewRunner(db, settings, app, deps or default_deps, redis_client=client)


def build_review_work(settings: Settings, db: Database, deps: ReviewDeps | None = None) -> ReviewWork:
    runner = build_review_runner(settings, db, deps)
    if runner is None:
        return ReviewWork()
    return ReviewWork(
        run_review=runner, reply=CommandResponder(runner.github), dismiss=Dismisser(db, runner.github)
    )
