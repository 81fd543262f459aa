"""Command comments end to end (signed webhook -> API -> Redis -> real worker -> fake GitHub): the bot
reacts, answers help/pause/resume, runs /review through the review pipeline, and ignores bots."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from reviewops.db.models import Review
from reviewops.db.session import Database
from reviewops.deliveries.handlers.comments import HELP_TEXT
from tests.support.fake_github import FakeGitHub
from tests.support.waiting import post_and_wait
from tests.support.webhooks import load_payload

REPO = "octo/demo"
INSTALLATION = 77
HEAD = "1" * 40
LINES = ["import os", 'KEY = "AKIAIOSFODNN7EXAMPLE"', 'print("debug")']
PATCH = f"@@ -0,0 +1,{len(LINES)} @@\n" + "\n".join("+" + line for line in LINES)


def comment(client: Any, db: Database, body: str, comment_id: int, *, bot: bool = False) -> str:
    """Deliver an issue_comment on PR #7; returns the delivery's final status."""
    payload = load_payload("issue_comment/created.with-installation.payload.json")
    payload["installation"]["id"] = INSTALLATION
    payload["repository"]["full_name"] = REPO
    payload["issue"].update(number=7, pull_request={"url": f"https://api.github.com/repos/{REPO}/pulls/7"})
    payload["comment"].update(id=comment_id, body=body)
    if bot:
        payload["comment"]["user"].update(type="Bot", login="reviewops[bot]")
    return post_and_wait(client, db, "issue_comment", payload)


def test_review_command_reacts_and_reviews_the_current_head(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(
        REPO, 7, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
    )
    assert comment(gh_client, db, "/review", 501) == "processed"
    repo = fake_github.repos[REPO]
    assert repo.reactions == [(501, "eyes")]
    (posted,) = repo.reviews[7]
    assert posted["commit_id"] == HEAD and repo.review_comments[7]
    (run,) = repo.check_runs.values()
    assert run["head_sha"] == HEAD and run["status"] == "completed"
    with db.session() as s:
        (review,) = s.execute(select(Review)).scalars()
        assert review.trigger == "command:review" and review.head_sha == HEAD  # read from the PR
        assert review.status == "completed"
    # The reaction came before the review: the user sees the command was taken at once.
    posts = [c.template for c in fake_github.content_calls() if "access_tokens" not in c.path]
    assert posts[0] == "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"


@pytest.mark.parametrize(
    ("body", "reaction", "reply"),
    [
        ("/reviewops help", "+1", HELP_TEXT),
        ("/reviewops frobnicate", "confused", HELP_TEXT),
        ("/reviewops pause", "+1", f"Automatic reviews are paused for {REPO}"),
    ],
)
def test_help_and_controls_answer(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any, body: str, reaction: str,
    reply: str,
) -> None:  # fmt: skip
    fake_github.add_repo(REPO)
    assert comment(gh_client, db, body, 601) == "processed"
    repo = fake_github.repos[REPO]
    assert repo.reactions == [(601, reaction)]
    (answer,) = repo.issue_comments[7]
    assert answer["body"].startswith(reply)
    with db.session() as s:
        assert s.execute(select(Review)).scalars().all() == []


def test_a_bots_review_command_does_nothing(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(
        REPO, 7, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
    )
    assert comment(gh_client, db, "/review", 701, bot=True) == "ignored"
    assert fake_github.content_calls() == []
    assert fake_github.repos[REPO].reactions == []
    with db.session() as s:
        assert s.execute(select(Review)).scalars().all() == []


def test_review_is_incremental_and_review_full_posts_everything_again(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(
        REPO, 7, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
    )
    assert comment(gh_client, db, "/review", 801) == "processed"
    repo = fake_github.repos[REPO]
    first = sorted(c["line"] for c in repo.review_comments[7])
    assert first and len(repo.reviews[7]) == 1
    assert comment(gh_client, db, "/review", 802) == "processed"
    assert len(repo.reviews[7]) == 1  # nothing new since the last review: no second review
    assert comment(gh_client, db, "/review full", 803) == "processed"
    assert len(repo.reviews[7]) == 2
    assert sorted(c["line"] for c in repo.review_comments[7]) == sorted(first * 2)
    with db.session() as s:
        statuses = [r.status for r in s.execute(select(Review).order_by(Review.id)).scalars()]
    assert statuses == ["completed"] * 3
    assert [r for r in repo.reactions if r[0] in (801, 802, 803)] == [
        (801, "eyes"), (802, "eyes"), (803, "eyes"),
    ]  # fmt: skip
