"""`issue_comment` commands on pull requests: /review, /review full, /reviewops pause|resume|help."""

from __future__ import annotations

import re
from typing import Any

from reviewops import audit
from reviewops.db.models import DeliveryStatus, TenantStatus
from reviewops.deliveries.handlers.pull_request import (
    existing_review,
    new_review,
    resume_delayed,
)
from reviewops.deliveries.processing import Context
from reviewops.deliveries.tenants import ensure_repository, ensure_tenant
from reviewops.reviews.commands import CommandReply

_COMMAND = re.compile(r"^\s*/(review(?:ops)?)\b[ \t]*([A-Za-z-]*)", re.IGNORECASE)
COMMANDS = ("review", "review-full", "pause", "resume", "help")

HELP_TEXT = """ReviewOps commands (comment on the pull request):
- `/review`: review the changes since the last reviewed commit
- `/review full`: review the whole pull request again
- `/reviewops pause` / `/reviewops resume`: stop or restart automatic reviews in this repository
- `/reviewops help`: this message"""


def parse_command(body: str | None) -> str | None:
    """The command on the comment's first line, or None. Unknown `/reviewops x` asks for help."""
    if not body:
        return None
    match = _COMMAND.match(body.splitlines()[0] if body.strip() else "")
    if not match:
        return None
    word, arg = match.group(1).lower(), match.group(2).lower()
    if word == "review":
        return "review-full" if arg == "full" else "review" if arg == "" else None
    return arg if arg in ("pause", "resume", "help") else "help"


def is_unknown(body: str | None) -> bool:
    """`/reviewops <something we do not know>`: answered with the help text and a `confused` reaction."""
    match = _COMMAND.match((body or "").splitlines()[0] if (body or "").strip() else "")
    if match is None:
        return False
    return match.group(1).lower() == "reviewops" and match.group(2).lower() not in ("pause", "resume", "help")


def feedback(command: str, unknown: bool, repository: str) -> tuple[str, str | None]:
    """The reaction on the command comment and the reply comment (None: the reaction says it all)."""
    if command in ("review", "review-full"):
        return "eyes", None  # the review itself is the answer
    if command == "pause":
        return "+1", f"Automatic reviews are paused for {repository}; `/reviewops resume` restarts them."
    if command == "resume":
        return "+1", f"Automatic reviews are back on for {repository}."
    return ("confused" if unknown else "+1"), HELP_TEXT


def respond(ctx: Context, installation_id: int | None, comment: dict[str, Any], command: str) -> None:
    """React to the command (and reply) through the GitHub App once this transaction has committed."""
    responder = ctx.reviews.reply
    comment_id = comment.get("id")
    if responder is None or installation_id is None or not isinstance(comment_id, int):
        return
    repository = ctx.delivery.repository or ""
    reaction, text = feedback(command, is_unknown(comment.get("body")), repository)
    pr_number = int((ctx.delivery.payload.get("issue") or {}).get("number") or 0)
    reply = CommandReply(installation_id, repository, pr_number, comment_id, reaction, text)
    ctx.after_commit.append(lambda: responder(reply))


def is_bot(comment: dict[str, Any]) -> bool:
    user = comment.get("user") or {}
    return (
        user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")
        or comment.get("performed_via_github_app") is not None
    )  # fmt: skip


def handle_issue_comment(ctx: Context) -> str:
    payload = ctx.delivery.payload
    earlier = existing_review(ctx)
    if earlier is not None:
        return resume_delayed(ctx, earlier)
    if ctx.delivery.action != "created":
        return ctx.ignore("only new comments carry commands")
    issue = payload.get("issue") or {}
    comment = payload.get("comment") or {}
    if not issue.get("pull_request"):
        return ctx.ignore("comment is not on a pull request")
    if is_bot(comment):
        return ctx.ignore("comment by a bot")
    command = parse_command(comment.get("body"))
    if command is None:
        return ctx.ignore("no ReviewOps command in the comment")
    tenant = ensure_tenant(ctx.session, payload)
    ctx.delivery.tenant_id = tenant.id if tenant else None
    if tenant is not None and tenant.status != TenantStatus.ACTIVE:
        return ctx.ignore(f"tenant is {tenant.status}")
    repo = ensure_repository(ctx.session, tenant, payload.get("repository") or {}) if tenant else None
    ctx.command = command
    pr_number = int(issue.get("number") or 0)
    respond(ctx, tenant.installation_id if tenant else None, comment, command)
    if command in ("review", "review-full"):
        # The comment does not carry the head SHA: the review engine reads it from the PR.
        ctx.reason = f"command /{command.replace('-', ' ')}"
        return new_review(ctx, tenant, pr_number, "", None, f"command:{command}")
    if command in ("pause", "resume") and repo is not None:
        repo.paused = command == "pause"
        audit.record(
            ctx.session, str((comment.get("user") or {}).get("login", "unknown")), f"repository.{command}",
            repo.full_name, tenant_id=tenant.id if tenant else None, details={"delivery": ctx.delivery.delivery_guid},
        )  # fmt: skip
    ctx.reason = f"command /{command.replace('-', ' ')}"
    return DeliveryStatus.PROCESSED
