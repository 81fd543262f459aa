"""Event routing over every octokit payload, and the behaviours behind each route (real PostgreSQL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import redis
from sqlalchemy import select

from reviewops.db.models import AuditLog, Repository, Review, Tenant
from reviewops.db.session import Database
from reviewops.deliveries.handlers.comments import parse_command
from reviewops.policy import PolicySnapshot, ReviewSettings, TenantLimits, write_policy
from reviewops.settings import Settings
from tests.support.deliveries import process
from tests.support.webhooks import WEBHOOKS, load_payload

ALL_PAYLOADS = sorted(str(p.relative_to(WEBHOOKS)) for p in WEBHOOKS.glob("*/*.json"))
REVIEWED = {"opened", "synchronize", "reopened", "ready_for_review"}


def expected(relative: str) -> tuple[str, bool]:
    """(status, creates a review) — written out per event family, independent of the handlers' code."""
    event, payload = relative.split("/")[0], load_payload(relative)
    action = payload.get("action")
    if event == "ping" or event in ("installation", "installation_repositories"):
        return "processed", False
    if event == "pull_request":
        if action == "closed":
            return "processed", False
        if action in REVIEWED and not payload["pull_request"]["draft"]:
            return "processed", True
        return "ignored", False
    # issue_comment fixtures are comments on issues (not PRs) without commands; the rest is not handled.
    return "ignored", False


@pytest.mark.parametrize("relative", ALL_PAYLOADS)
def test_every_fixture_routes_to_its_outcome(relative: str, db: Database, settings: Settings) -> None:
    status, creates_review = expected(relative)
    row = process(db, settings, relative.split("/")[0], load_payload(relative))
    assert row.status == status
    if status == "ignored":
        assert row.status_reason
    with db.session() as s:
        assert len(s.execute(select(Review)).scalars().all()) == (1 if creates_review else 0)


def pr_payload(action: str = "synchronize", sha: str = "a" * 40, draft: bool = False) -> dict[str, Any]:
    payload = copy.deepcopy(load_payload("pull_request/synchronize.payload.json"))
    payload["action"] = action
    payload["pull_request"]["head"]["sha"] = sha
    payload["pull_request"]["draft"] = draft
    return payload


def reviews(db: Database) -> list[Review]:
    with db.session() as s:
        return list(s.execute(select(Review).order_by(Review.id)).scalars())


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """Settings of a deployment with a GitHub App, so reviews are `pending` rather than `skipped`."""
    from pydantic import SecretStr

    return settings.model_copy(update={"github_app_id": 1, "github_private_key": SecretStr("x")})


def test_newer_head_supersedes_pending_review(db: Database, app_settings: Settings) -> None:
    process(db, app_settings, "pull_request", pr_payload(sha="1" * 40))
    process(db, app_settings, "pull_request", pr_payload(sha="2" * 40))
    first, second = reviews(db)
    assert (first.status, second.status) == ("superseded", "pending")
    assert "2222" in (first.status_reason or "")


def test_closed_cancels_pending_work(db: Database, app_settings: Settings) -> None:
    process(db, app_settings, "pull_request", pr_payload(sha="1" * 40))
    row = process(db, app_settings, "pull_request", pr_payload(action="closed"))
    assert row.status == "processed"
    assert [r.status for r in reviews(db)] == ["cancelled"]


def test_drafts_skipped_unless_policy_says_otherwise(
    db: Database, settings: Settings, redis_client: redis.Redis
) -> None:
    assert process(db, settings, "pull_request", pr_payload(action="opened", draft=True)).status == "ignored"
    write_policy(
        redis_client,
        PolicySnapshot(1, "ns/p", TenantLimits(), {}, ReviewSettings(analyzers={}, skip_drafts=False)),
    )
    assert (
        process(db, settings, "pull_request", pr_payload(action="opened", draft=True)).status == "processed"
    )
    assert len(reviews(db)) == 1


def test_tenant_flag_overrides_policy_for_drafts(db: Database, settings: Settings) -> None:
    process(db, settings, "installation", load_payload("installation/created.payload.json"))
    with db.session() as s:
        tenant = s.execute(select(Tenant)).scalar_one()
        tenant.settings = {"skip_drafts": False}
    payload = pr_payload(action="opened", draft=True)
    payload["installation"]["id"] = 957387
    assert process(db, settings, "pull_request", payload).status == "processed"


def test_installation_lifecycle_is_tracked_and_audited(db: Database, settings: Settings) -> None:
    created = load_payload("installation/created.payload.json")
    process(db, settings, "installation", created)
    with db.session() as s:
        tenant = s.execute(select(Tenant)).scalar_one()
        assert (tenant.installation_id, tenant.status) == (957387, "active")
        assert tenant.account_login == created["installation"]["account"]["login"]
        assert [r.full_name for r in s.execute(select(Repository)).scalars()] == [
            created["repositories"][0]["full_name"]
        ]
    for action, status in (("suspend", "suspended"), ("unsuspend", "active"), ("deleted", "deleted")):
        payload = copy.deepcopy(created)
        payload["action"] = action
        process(db, settings, "installation", payload)
        with db.session() as s:
            assert s.execute(select(Tenant.status)).scalar_one() == status
    with db.session() as s:
        actions = [a.action for a in s.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]
        assert not s.execute(select(Repository.active)).scalar_one()
    assert actions == ["tenant.created", "tenant.suspend", "tenant.unsuspend", "tenant.deleted"]


def test_suspended_tenant_gets_no_reviews(db: Database, settings: Settings) -> None:
    payload = copy.deepcopy(load_payload("installation/created.payload.json"))
    process(db, settings, "installation", payload)
    payload["action"] = "suspend"
    process(db, settings, "installation", payload)
    pr = pr_payload(action="opened")
    pr["installation"]["id"] = 957387
    row = process(db, settings, "pull_request", pr)
    assert row.status == "ignored" and "suspended" in (row.status_reason or "")


def test_installation_repositories_added_and_removed(db: Database, settings: Settings) -> None:
    added = load_payload("installation_repositories/added.payload.json")
    process(db, settings, "installation_repositories", added)
    with db.session() as s:
        repo = s.execute(select(Repository)).scalar_one()
        assert repo.full_name == added["repositories_added"][0]["full_name"] and repo.active
    removed = copy.deepcopy(load_payload("installation_repositories/removed.payload.json"))
    removed["installation"]["id"] = added["installation"]["id"]
    removed["repositories_removed"] = added["repositories_added"]
    process(db, settings, "installation_repositories", removed)
    with db.session() as s:
        assert not s.execute(select(Repository.active)).scalar_one()


def comment_payload(body: str, user_type: str = "User") -> dict[str, Any]:
    payload = copy.deepcopy(load_payload("issue_comment/created.with-installation.payload.json"))
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    payload["comment"]["body"] = body
    payload["comment"]["user"]["type"] = user_type
    return payload


def test_review_commands_create_reviews(db: Database, settings: Settings) -> None:
    process(db, settings, "issue_comment", comment_payload("/review"))
    process(db, settings, "issue_comment", comment_payload("/review full\nplease"))
    assert [r.trigger for r in reviews(db)] == ["command:review", "command:review-full"]


def test_pause_and_resume_stop_automatic_reviews(db: Database, settings: Settings) -> None:
    process(db, settings, "issue_comment", comment_payload("/reviewops pause"))
    pr = pr_payload(action="opened")
    pr["installation"]["id"] = comment_payload("")["installation"]["id"]
    assert process(db, settings, "pull_request", pr).status == "ignored"
    process(db, settings, "issue_comment", comment_payload("/reviewops resume"))
    assert process(db, settings, "pull_request", pr).status == "processed"
    with db.session() as s:
        assert [a.action for a in s.execute(select(AuditLog).order_by(AuditLog.id)).scalars()] == [
            "repository.pause", "repository.resume",
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "user_type"), [("/review", "Bot"), ("looks good", "User"), ("please /review", "User")]
)
def test_bots_and_plain_comments_are_ignored(
    db: Database, settings: Settings, body: str, user_type: str
) -> None:
    assert process(db, settings, "issue_comment", comment_payload(body, user_type)).status == "ignored"
    assert reviews(db) == []


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/review", "review"), ("/REVIEW full", "review-full"), ("/review\nmore text", "review"),
        ("/reviewops pause", "pause"), ("/reviewops resume", "resume"), ("/reviewops help", "help"),
        ("/reviewops frobnicate", "help"), ("/reviewx", None), ("/review fast", None), ("", None),
        (None, None), ("hello /review", None),
    ],
)  # fmt: skip
def test_parse_command(body: str | None, command: str | None) -> None:
    assert parse_command(body) == command
