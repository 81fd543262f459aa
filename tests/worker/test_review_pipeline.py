"""The review pipeline end to end: signed webhook -> API -> Redis -> real dramatiq worker -> fake GitHub
(validating GitHub's OpenAPI contract) -> PostgreSQL, with a deterministic engine built from the contract."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from reviewops.db.models import Finding, Review, Tenant, UsageDaily, WebhookDelivery
from reviewops.db.session import Database
from reviewops.errors import PermanentError
from reviewops.github.client import GitHubApp
from reviewops.reviews.render import SUMMARY_MARKER
from reviewops.reviews.runner import ReviewRunner
from reviewops.settings import Settings
from tests.support.deliveries import post_until_processed, pr_payload
from tests.support.fake_github import FakeGitHub
from tests.support.review_engine import DEPS

REPO = "octo/demo"
INSTALLATION = 77
SECRET_VALUE = "AKIAIOSFODNN7EXAMPLE"
HEAD1, HEAD2 = "1" * 40, "2" * 40
REVIEWS = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
REVIEW = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}"
CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"

LINES1 = [
    "import os",
    f'KEY = "{SECRET_VALUE}"',
    'print("debug")',
    "# TODO tidy",
    "x = 1  # outside-diff",
    "y = 2",
]
LINES2 = [*LINES1, 'print("second")', "z = 3"]


def new_file_patch(lines: list[str]) -> str:
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)


def deliver(client: Any, db: Database, action: str, number: int, head: str) -> str:
    return post_until_processed(
        client, db, "pull_request", pr_payload(REPO, INSTALLATION, action, number, head)
    )


def reviews(db: Database) -> list[Review]:
    with db.session() as s:
        return list(s.execute(select(Review).order_by(Review.id)).scalars())


def findings(db: Database, review_id: int) -> list[Finding]:
    with db.session() as s:
        return list(s.execute(select(Finding).where(Finding.review_id == review_id)).scalars())


def seed_config(fake: FakeGitHub) -> None:
    # The base branch has an invalid field; the PR head tries to switch comments off (must be ignored).
    fake.set_file(REPO, ".reviewops.yaml", "severity_threshold: warning\nmax_comments: lots\n", ref="main")
    fake.set_file(REPO, ".reviewops.yaml", "max_comments: 0\n", ref="feature")
    fake.set_file(REPO, ".reviewops.yaml", "max_comments: 0\n", ref=HEAD1)


def test_opened_then_synchronize(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any, github_settings: Settings
) -> None:
    seed_config(fake_github)
    fake_github.add_pull(REPO, 7, head_sha=HEAD1, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES1), "additions": 6},
        {"filename": "logo.png", "status": "added", "patch": None},
    ])  # fmt: skip
    deliver(gh_client, db, "opened", 7, HEAD1)

    repo = fake_github.repos[REPO]
    assert len(repo.reviews[7]) == 1
    first = repo.review_comments[7]
    assert sorted(c["line"] for c in first) == [2, 3]  # secret and print; TODO is below the threshold
    assert all(c["commit_id"] == HEAD1 for c in first)
    assert any("```suggestion\nlog.debug(" in c["body"] for c in first)
    (run,) = repo.check_runs.values()
    assert run["name"] == "ReviewOps" and run["status"] == "completed" and run["conclusion"] == "failure"
    assert run["head_sha"] == HEAD1
    # Two content writes: the check run, created at its final state, and one review carrying the inline
    # comments and the summary (no separate issue comment).
    writes = [c for c in fake_github.content_calls() if "access_tokens" not in c.path]
    assert [(c.method, c.template) for c in writes] == [("POST", CHECK_RUNS), ("POST", REVIEWS)]
    assert 7 not in repo.issue_comments
    summary = repo.reviews[7][0]
    assert SUMMARY_MARKER in summary["body"] and HEAD1[:12] in summary["body"]
    assert "max_comments" in summary["body"]  # the invalid base-branch field is named
    assert "- [ ] Run the tests" in summary["body"]
    config_calls = [c for c in fake_github.calls if c.path.endswith("/contents/.reviewops.yaml")]
    assert config_calls and all(c.query["ref"] == "main" for c in config_calls)

    (review,) = reviews(db)
    assert review.status == "completed" and review.github_review_id == repo.reviews[7][0]["id"]
    assert review.check_run_id == run["id"] and review.summary_comment_id is None
    assert review.posted_count == 2 and review.findings_count == 4
    assert review.llm_prompt_tokens == 120 and review.llm_completion_tokens == 30
    assert {"fetch_seconds", "engine_seconds", "post_seconds", "fake_engine_seconds"} <= set(review.timings)
    stored = {f.rule_id: f for f in findings(db, review.id)}
    assert stored["far-away"].posted is False and stored["todo"].posted is False
    assert stored["secret-aws-key"].posted is True and stored["debug-print"].posted is True

    # synchronize: a new head with one more finding; only that one is posted, the summary is edited.
    fake_github.add_pull(REPO, 7, head_sha=HEAD2, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES2), "additions": 8},
    ])  # fmt: skip
    deliver(gh_client, db, "synchronize", 7, HEAD2)
    assert len(repo.reviews[7]) == 2
    second = [c for c in repo.review_comments[7] if c["commit_id"] == HEAD2]
    assert [c["line"] for c in second] == [7]
    # New inline comments: a new review carries them and this push's summary (still two writes).
    assert HEAD2[:12] in repo.reviews[7][1]["body"] and SUMMARY_MARKER in repo.reviews[7][1]["body"]
    writes = [c for c in fake_github.content_calls() if "access_tokens" not in c.path]
    assert len(writes) == 4
    assert len(repo.check_runs) == 2
    later = reviews(db)[1]
    assert later.status == "completed" and later.posted_count == 1
    assert later.github_review_id == repo.reviews[7][1]["id"]

    # The same head again (a redelivery, `/review`): nothing new inline, so no new review; the summary
    # of the PR is edited in place (PUT on the last review) - the check run and one edit, two writes.
    with db.session() as s:
        s.add(Review(tenant_id=later.tenant_id, repository=REPO, pr_number=7, head_sha=HEAD2, timings={}))
    again = reviews(db)[2]
    assert make_runner(github_settings, db).run(again.id) == "completed"
    assert len(repo.reviews[7]) == 2 and len(repo.check_runs) == 3
    edits = fake_github.calls_to(REVIEW, "PUT")
    assert len(edits) == 1 and edits[0].path.endswith(f"/reviews/{later.github_review_id}")
    assert f"<!-- reviewops:review:{again.id} -->" in repo.reviews[7][1]["body"]
    writes = [c for c in fake_github.content_calls() if "access_tokens" not in c.path]
    assert len(writes) == 6

    # Nothing outside the diff, and never the secret, reached GitHub.
    sent = fake_github.sent_text()
    assert SECRET_VALUE not in sent and "[redacted]" in sent
    assert "5005" not in sent and "Finding outside the diff" not in sent
    with db.session() as s:
        usage = s.execute(select(UsageDaily)).scalar_one()
        assert usage.reviews == 2 and usage.llm_prompt_tokens == 360  # three runs of the (fake) LLM


def test_overflow_goes_to_annotations_in_batches_of_50(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    lines = ["a = 1  # many:130", "b = 2"]
    fake_github.add_pull(REPO, 9, head_sha=HEAD1, files=[
        {"filename": "big.py", "status": "added", "patch": new_file_patch(lines)},
    ])  # fmt: skip
    deliver(gh_client, db, "opened", 9, HEAD1)
    repo = fake_github.repos[REPO]
    assert len(repo.review_comments[9]) == 30
    (run,) = repo.check_runs.values()
    assert len(run["annotations"]) == 100 and run["conclusion"] == "neutral"
    patches = fake_github.calls_to("/repos/{owner}/{repo}/check-runs/{check_run_id}", "PATCH")
    sizes = [len(c.body["output"].get("annotations", [])) for c in patches]
    # 100 annotations: 50 in the create call, one update for the other 50 (the documented third write).
    (create,) = fake_github.calls_to(CHECK_RUNS, "POST")
    assert len(create.body["output"]["annotations"]) == 50 and create.body["conclusion"] == "neutral"
    assert sizes == [50]
    (review,) = reviews(db)
    assert review.posted_count == 130 and review.findings_count == 130


def test_a_crash_after_posting_never_posts_twice(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(REPO, 11, head_sha=HEAD1, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES1)},
    ])  # fmt: skip
    # The check run is posted, then posting the review fails: the message is retried.
    fake_github.fail_next(502, method="POST", template=REVIEWS)
    guid = deliver(gh_client, db, "opened", 11, HEAD1)
    repo = fake_github.repos[REPO]
    assert len(repo.reviews[11]) == 1 and len(repo.check_runs) == 1 and 11 not in repo.issue_comments
    assert len(fake_github.calls_to(REVIEWS, "POST")) == 2  # the failed one and the retry
    assert len(fake_github.calls_to(CHECK_RUNS, "POST")) == 1
    with db.session() as s:
        delivery = s.execute(
            select(WebhookDelivery).where(WebhookDelivery.delivery_guid == guid)
        ).scalar_one()
        assert delivery.attempts == 2
    (review,) = reviews(db)
    assert review.status == "completed" and len(findings(db, review.id)) == 4


def make_runner(settings: Settings, db: Database) -> ReviewRunner:
    return ReviewRunner(db, settings, GitHubApp.from_settings(settings), DEPS)


def add_review(db: Database, head: str, number: int = 3) -> int:
    with db.session() as s:
        tenant = s.execute(select(Tenant).where(Tenant.installation_id == INSTALLATION)).scalar_one_or_none()
        if tenant is None:
            tenant = Tenant(installation_id=INSTALLATION, settings={})
            s.add(tenant)
            s.flush()
        review = Review(tenant_id=tenant.id, repository=REPO, pr_number=number, head_sha=head, timings={})
        s.add(review)
        s.flush()
        return review.id


def test_a_newer_head_supersedes(github_settings: Settings, db: Database, fake_github: FakeGitHub) -> None:
    older, newer = add_review(db, HEAD1), add_review(db, HEAD2)
    runner = make_runner(github_settings, db)
    assert runner.run(older) == "superseded"
    assert fake_github.calls == []  # nothing fetched, nothing posted
    assert runner.run(older) == "superseded"
    with db.session() as s:
        assert s.get(Review, newer).status == "pending"  # type: ignore[union-attr]


def test_a_moved_head_supersedes_and_a_missing_pr_is_permanent(
    github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> None:
    fake_github.add_pull(REPO, 3, head_sha=HEAD2, files=[])
    runner = make_runner(github_settings, db)
    assert runner.run(add_review(db, HEAD1)) == "superseded"
    assert fake_github.content_calls() == [
        c for c in fake_github.content_calls() if "access_tokens" in c.path
    ]
    gone = add_review(db, HEAD1, number=404)
    with pytest.raises(PermanentError):
        runner.run(gone)
    with db.session() as s:
        review = s.get(Review, gone)
        assert review is not None and review.status == "failed" and "is gone" in (review.status_reason or "")
    assert runner.run(gone) == "failed"  # over: a redelivery does not retry it


def test_a_suspended_installation_fails_the_review(
    github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> None:
    fake_github.add_pull(REPO, 3, head_sha=HEAD1, files=[])
    fake_github.suspended.add(INSTALLATION)
    review_id = add_review(db, HEAD1)
    with pytest.raises(PermanentError, match="suspended"):
        make_runner(github_settings, db).run(review_id)
    assert fake_github.calls_to(REVIEWS, "POST") == []


def test_a_completed_review_is_not_run_again(
    github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> None:
    fake_github.add_pull(REPO, 3, head_sha=HEAD1, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES1)},
    ])  # fmt: skip
    runner = make_runner(github_settings, db)
    review_id = add_review(db, HEAD1)
    assert runner.run(review_id) == "completed"
    calls = len(fake_github.calls)
    assert runner.run(review_id) == "completed"
    assert len(fake_github.calls) == calls


def test_a_review_posted_before_a_crash_is_adopted_not_reposted(
    github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> None:
    from tests.support import github_objects as obj

    fake_github.add_pull(REPO, 3, head_sha=HEAD1, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES1)},
    ])  # fmt: skip
    review_id = add_review(db, HEAD1)
    # The POST went through but the worker died before saving the id: GitHub already has the review.
    earlier = obj.review(555, REPO, 3, body=f"<!-- reviewops:review:{review_id} -->\nx", commit_id=HEAD1,
                         state="COMMENTED")  # fmt: skip
    fake_github.repos[REPO].reviews[3] = [earlier]
    assert make_runner(github_settings, db).run(review_id) == "completed"
    assert fake_github.calls_to(REVIEWS, "POST") == []
    with db.session() as s:
        assert s.get(Review, review_id).github_review_id == 555  # type: ignore[union-attr]


def test_stored_notes_reach_the_summary_and_stay_on_the_review(
    github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> None:
    """A rate-limit delay note written when the review was recorded shows in the summary comment, and the
    review keeps its notes after completion (the REST API shows them)."""
    from reviewops.db.models import Tenant
    from reviewops.reviews.work import build_review_runner

    seed_config(fake_github)
    fake_github.add_pull(REPO, 9, head_sha=HEAD1, files=[
        {"filename": "app.py", "status": "added", "patch": new_file_patch(LINES1), "additions": 6},
    ])  # fmt: skip
    note = "This review was delayed by 5s because the installation is over its review rate limit."
    with db.session() as s:
        tenant = Tenant(installation_id=INSTALLATION, account_login="o", settings={})
        s.add(tenant)
        s.flush()
        review = Review(tenant_id=tenant.id, repository=REPO, pr_number=9, head_sha=HEAD1, status="pending",
                        timings={"notes": [note]})  # fmt: skip
        s.add(review)
        s.flush()
        review_id = review.id
    runner = build_review_runner(github_settings, db, DEPS)
    assert runner is not None
    runner(review_id)
    (summary,) = fake_github.repos[REPO].reviews[9]
    assert note in summary["body"]
    with db.session() as s:
        done = s.get(Review, review_id)
        assert done is not None and done.status == "completed"
        assert note in done.timings["notes"] and "fetch_seconds" in done.timings
