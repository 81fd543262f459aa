"""What the bot answers to each command, decided by the handler and posted after commit (real PostgreSQL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reviewops.db.session import Database
from reviewops.deliveries import processing, routing
from reviewops.deliveries.handlers.comments import HELP_TEXT, feedback, is_unknown
from reviewops.reviews.commands import CommandReply
from reviewops.reviews.work import ReviewWork
from reviewops.settings import Settings
from tests.support.deliveries import store
from tests.support.webhooks import load_payload


def comment_payload(body: str, user_type: str = "User") -> dict[str, Any]:
    payload = copy.deepcopy(load_payload("issue_comment/created.with-installation.payload.json"))
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    payload["comment"].update(body=body)
    payload["comment"]["user"]["type"] = user_type
    return payload


def run(db: Database, settings: Settings, payload: dict[str, Any], responder: Any) -> str:
    delivery_id = store(db, "issue_comment", payload)
    return processing.process_delivery(
        db, settings, delivery_id, routing.route, reviews=ReviewWork(reply=responder)
    )


@pytest.mark.parametrize(
    ("body", "reaction", "reply_start"),
    [
        ("/reviewops help", "+1", HELP_TEXT),
        ("/reviewops frobnicate", "confused", HELP_TEXT),
        ("/reviewops pause", "+1", "Automatic reviews are paused for Codertocat/Hello-World"),
        ("/reviewops resume", "+1", "Automatic reviews are back on"),
        ("/review", "eyes", None),
    ],
)
def test_each_command_gets_its_answer(
    db: Database, settings: Settings, body: str, reaction: str, reply_start: str | None
) -> None:
    sent: list[CommandReply] = []
    payload = comment_payload(body)
    assert run(db, settings, payload, sent.append) == "processed"
    (reply,) = sent
    assert reply.installation_id == payload["installation"]["id"]
    assert reply.comment_id == payload["comment"]["id"] and reply.pr_number == payload["issue"]["number"]
    assert reply.repository == "Codertocat/Hello-World" and reply.reaction == reaction
    assert (reply.reply is None) if reply_start is None else (reply.reply or "").startswith(reply_start)


def test_no_answer_to_bots_plain_comments_or_without_a_responder(db: Database, settings: Settings) -> None:
    sent: list[CommandReply] = []
    assert run(db, settings, comment_payload("/reviewops help", "Bot"), sent.append) == "ignored"
    assert run(db, settings, comment_payload("thanks!"), sent.append) == "ignored"
    assert sent == []
    assert run(db, settings, comment_payload("/reviewops help"), None) == "processed"


def test_a_failing_reply_fails_the_delivery_for_a_retry(db: Database, settings: Settings) -> None:
    def broken(reply: CommandReply) -> None:
        raise ConnectionError("GitHub unreachable")

    with pytest.raises(ConnectionError):
        run(db, settings, comment_payload("/reviewops help"), broken)


def test_unknown_and_feedback_are_pure() -> None:
    assert is_unknown("/reviewops nope") and not is_unknown("/reviewops help") and not is_unknown("/review")
    assert not is_unknown(None) and not is_unknown("hello")
    assert feedback("review-full", False, "o/r") == ("eyes", None)
