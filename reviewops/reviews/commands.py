"""Feedback on command comments: a reaction on the comment and, for help/pause/resume, a one-line reply.

The handler decides what to say (reviewops.deliveries.handlers.comments); this only posts it, as the App,
after the handler's transaction committed (Context.after_commit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from reviewops.github.client import GitHubApp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandReply:
    """Feedback on a command comment: a reaction on it and, optionally, a reply comment on the PR."""

    installation_id: int
    repository: str
    pr_number: int
    comment_id: int
    reaction: str
    reply: str | None = None


class CommandResponder:
    """One per worker process, shared by its threads (the GitHubApp is thread-safe)."""

    def __init__(self, github: GitHubApp) -> None:
        self.github = github

    def __call__(self, reply: CommandReply) -> None:
        gh = self.github.installation(reply.installation_id)
        try:
            # A courtesy, and idempotent on GitHub's side: it must never hold up the command itself.
            gh.add_reaction(reply.repository, reply.comment_id, reply.reaction)
        except Exception as exc:
            log.warning("reaction on comment %s failed: %s: %s", reply.comment_id, type(exc).__name__, exc)
        if reply.reply:
            # Errors propagate: the delivery is retried and the reply posted then.
            gh.create_issue_comment(reply.repository, reply.pr_number, reply.reply)
