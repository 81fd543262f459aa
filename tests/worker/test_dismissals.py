"""Dismissal memory end to end (signed webhooks -> API -> Redis -> real worker -> fake GitHub):
`/reviewops ignore` in reply to a ReviewOps inline comment keeps that finding off later reviews of the
repository, the summary counts it, the tenant API lists and deletes it, `/reviewops unignore` lifts it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from reviewops.db.models import AuditLog, Suppression, Tenant
from reviewops.db.session import Database
from reviewops.reviews.render import fingerprint_in
from reviewops.tenancy import apikeys
from tests.support.fake_github import FakeGitHub
from tests.support.waiting import post_and_wait, wait_until
from tests.support.webhooks import load_payload
from tests.worker.test_command_feedback import INSTALLATION, REPO, comment

HEAD = "2" * 40
LINES = ["import os", 'print("debug")', "x = 1"]
PATCH = f"@@ -0,0 +1,{len(LINES)} @@\n" + "\n".join("+" + line for line in LINES)


def reply(client: Any, db: Database, body: str, parent_id: int, reply_id: int) -> str:
    """Deliver a pull_request_review_comment reply on PR #7; returns the delivery's final status."""
    payload = load_payload("pull_request_review_comment/created.payload.json")
    payload["installation"] = {"id": INSTALLATION}
    payload["repository"]["full_name"] = REPO
    payload["comment"].update(id=reply_id, in_reply_to_id=parent_id, body=body)
    payload["comment"]["user"].update(type="User", login="maintainer")
    return post_and_wait(client, db, "pull_request_review_comment", payload)


def summary_of(fake: FakeGitHub) -> str:
    """The PR's current summary: the newest review's body (a push with nothing new inline edits it)."""
    *_, newest = fake.repos[REPO].reviews[7]
    return str(newest["body"])


def test_ignore_suppresses_a_finding_in_later_reviews_until_unignored(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(
        REPO, 7, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
    )
    assert comment(gh_client, db, "/review", 601) == "processed"
    repo = fake_github.repos[REPO]
    (inline,) = repo.review_comments[7]
    fingerprint = fingerprint_in(inline["body"])
    assert fingerprint is not None  # every inline comment names its finding

    assert (
        reply(gh_client, db, "/reviewops ignore we print on purpose here", inline["id"], 701) == "processed"
    )
    wait_until(lambda: (701, "+1") in repo.reactions, timeout=30, what="reaction on the reply")
    with db.session() as s:
        (row,) = s.execute(select(Suppression)).scalars()
        tenant = s.execute(select(Tenant).where(Tenant.installation_id == INSTALLATION)).scalar_one()
        assert (row.repository, row.fingerprint, row.tenant_id) == (REPO, fingerprint, tenant.id)
        assert row.reason == "we print on purpose here" and row.created_by == "maintainer"
        assert row.rule_id == "debug-print" and row.path == "app.py"
        actions = s.execute(select(AuditLog.action)).scalars().all()
        assert "finding.ignore" in actions
        tenant_id = tenant.id

    # `/review full` posts everything again, except what the team suppressed; the summary says so.
    assert comment(gh_client, db, "/review full", 602) == "processed"
    assert len(repo.review_comments[7]) == 1  # no new inline comment
    assert "1 finding(s) suppressed by the team" in summary_of(fake_github)

    # The tenant API lists it; a second ignore of the same finding changes nothing.
    with db.session() as s:
        key = apikeys.create_key(s, tenant_id, "test").plaintext
    listed = gh_client.get("/api/v1/suppressions", headers={"Authorization": f"Bearer {key}"}).json()
    assert [i["fingerprint"] for i in listed["items"]] == [fingerprint]
    assert reply(gh_client, db, "/reviewops ignore", inline["id"], 702) == "processed"
    with db.session() as s:
        assert len(s.execute(select(Suppression)).scalars().all()) == 1

    assert reply(gh_client, db, "/reviewops unignore", inline["id"], 703) == "processed"
    with db.session() as s:
        assert s.execute(select(Suppression)).scalars().all() == []
    assert comment(gh_client, db, "/review full", 603) == "processed"
    assert len(repo.review_comments[7]) == 2  # posted again
    assert "suppressed by the team" not in summary_of(fake_github)


def test_a_reply_to_someone_elses_comment_suppresses_nothing(
    gh_client: Any, db: Database, fake_github: FakeGitHub, review_worker: Any
) -> None:
    fake_github.add_pull(
        REPO, 7, head_sha=HEAD, files=[{"filename": "app.py", "status": "added", "patch": PATCH}]
    )
    assert comment(gh_client, db, "/review", 611) == "processed"
    repo = fake_github.repos[REPO]
    (inline,) = repo.review_comments[7]
    inline["body"] = "A human reviewer's comment, no ReviewOps marker."
    assert reply(gh_client, db, "/reviewops ignore", inline["id"], 711) == "processed"
    wait_until(lambda: (711, "confused") in repo.reactions, timeout=30, what="confused reaction")
    with db.session() as s:
        assert s.execute(select(Suppression)).scalars().all() == []
    # Not a command, or not a reply: stored as ignored, no GitHub call.
    assert reply(gh_client, db, "looks fine to me", inline["id"], 712) == "ignored"


def test_tenant_api_deletes_only_its_own_suppressions(gh_client: Any, db: Database) -> None:
    with db.session() as s:
        mine, other = (
            Tenant(installation_id=1001, account_login="a"),
            Tenant(installation_id=1002, account_login="b"),
        )
        s.add_all([mine, other])
        s.flush()
        ours = Suppression(tenant_id=mine.id, repository="a/r", fingerprint="f" * 16, created_by="x")
        theirs = Suppression(tenant_id=other.id, repository="b/r", fingerprint="e" * 16, created_by="y")
        s.add_all([ours, theirs])
        s.flush()
        key = apikeys.create_key(s, mine.id, "test").plaintext
        ours_id, theirs_id, mine_id = ours.id, theirs.id, mine.id
    auth = {"Authorization": f"Bearer {key}"}
    assert gh_client.delete(f"/api/v1/suppressions/{theirs_id}", headers=auth).status_code == 404
    assert gh_client.delete(f"/api/v1/suppressions/{ours_id}", headers=auth).status_code == 204
    assert gh_client.get("/api/v1/suppressions", headers=auth).json()["items"] == []
    with db.session() as s:
        assert [r.id for r in s.execute(select(Suppression)).scalars()] == [theirs_id]
        (entry,) = s.execute(select(AuditLog).where(AuditLog.action == "finding.unignore")).scalars()
        assert entry.tenant_id == mine_id and entry.details["via"] == "api"
