"""Dismissal memory: `/reviewops ignore [reason]` in reply to a ReviewOps inline comment suppresses that
finding (by fingerprint) in the repository's later reviews; `/reviewops unignore` lifts it.

The delivery handler (reviewops.deliveries.handlers.review_comments) recognises the reply; the work runs
after its transaction commits (`Dismisser`, through ReviewWork): read the replied-to comment from GitHub,
take the fingerprint from its marker, write or delete the suppression with its audit row, and react on
the reply (👍 done, 😕 not a ReviewOps finding). A reply to anything else changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reviewops import audit
from reviewops.db.models import Suppression
from reviewops.db.session import Database
from reviewops.github.client import GitHubApp
from reviewops.reviews.render import fingerprint_in

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^\s*/reviewops[ \t]+(ignore|unignore)\b[ \t]*(.*)$", re.IGNORECASE)
MAX_REASON = 500


def parse_dismissal(body: str | None) -> tuple[str, str | None] | None:
    """("ignore" | "unignore", reason or None) from the comment's first line, or None."""
    first = (body or "").strip().splitlines()[0] if (body or "").strip() else ""
    match = _COMMAND.match(first)
    if match is None:
        return None
    reason = match.group(2).strip()[:MAX_REASON] or None
    return match.group(1).lower(), reason


@dataclass(frozen=True)
class Dismissal:
    """One `/reviewops ignore|unignore` reply, as the handler saw it."""

    installation_id: int
    tenant_id: int
    repository: str
    parent_comment_id: int  # the ReviewOps inline comment replied to
    reply_comment_id: int
    command: str  # "ignore" | "unignore"
    reason: str | None
    actor: str


def suppressed_fingerprints(session: Session, tenant_id: int | None, repository: str) -> set[str]:
    if tenant_id is None:
        return set()
    rows = session.execute(
        select(Suppression.fingerprint).where(
            Suppression.tenant_id == tenant_id, Suppression.repository == repository
        )
    ).scalars()
    return set(rows)


def apply(db: Database, dismissal: Dismissal, fingerprint: str, rule_id: str, path: str) -> bool:
    """Write (ignore) or delete (unignore) the suppression with its audit row; False if nothing changed."""
    target = f"{dismissal.repository}:{fingerprint}"
    details = {
        "rule_id": rule_id,
        "path": path,
        "reason": dismissal.reason,
        "comment": dismissal.reply_comment_id,
    }
    try:
        with db.session() as session:
            if dismissal.command == "unignore":
                gone = session.execute(
                    delete(Suppression)
                    .where(
                        Suppression.tenant_id == dismissal.tenant_id,
                        Suppression.repository == dismissal.repository,
                        Suppression.fingerprint == fingerprint,
                    )
                    .returning(Suppression.id)
                ).all()
                if not gone:
                    return False
            else:
                session.add(
                    Suppression(
                        tenant_id=dismissal.tenant_id, repository=dismissal.repository, fingerprint=fingerprint,
                        rule_id=rule_id[:128], path=path[:1024], reason=dismissal.reason,
                        created_by=dismissal.actor[:255], comment_id=dismissal.reply_comment_id,
                    )
                )  # fmt: skip
                session.flush()
            audit.record(
                session, dismissal.actor, f"finding.{dismissal.command}", target,
                tenant_id=dismissal.tenant_id, details=details,
            )  # fmt: skip
    except IntegrityError:
        return False  # already ignored (a redelivery, or two replies): nothing new
    return True


class Dismisser:
    """One per worker process, shared by its threads (the GitHubApp is thread-safe)."""

    def __init__(self, db: Database, github: GitHubApp) -> None:
        self.db = db
        self.github = github

    def __call__(self, dismissal: Dismissal) -> None:
        gh = self.github.installation(dismissal.installation_id)
        parent = gh.get_review_comment(dismissal.repository, dismissal.parent_comment_id)
        fingerprint = fingerprint_in(str(parent.get("body") or ""))
        if fingerprint is None:
            reaction = "confused"  # not a ReviewOps finding: there is nothing to ignore
        else:
            rule = re.search(r"`([^`]{1,128})`", str(parent.get("body") or ""))
            apply(
                self.db, dismissal, fingerprint, rule.group(1) if rule else "", str(parent.get("path") or "")
            )
            reaction = "+1"
        try:
            # A courtesy: the suppression is written; a failed reaction must not retry the delivery.
            gh.add_review_comment_reaction(dismissal.repository, dismissal.reply_comment_id, reaction)
        except Exception as exc:
            log.warning("reaction on comment %s failed: %s", dismissal.reply_comment_id, type(exc).__name__)
