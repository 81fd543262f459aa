"""Which handler takes which GitHub event; everything not listed is stored as `ignored` with no work."""

from __future__ import annotations

from reviewops.db.models import DeliveryStatus
from reviewops.deliveries.handlers.comments import handle_issue_comment
from reviewops.deliveries.handlers.installation import handle_installation, handle_installation_repositories
from reviewops.deliveries.handlers.pull_request import handle_pull_request
from reviewops.deliveries.handlers.review_comments import handle_review_comment
from reviewops.deliveries.processing import Context, Handler


def handle_ping(ctx: Context) -> str:
    return DeliveryStatus.PROCESSED


ROUTES: dict[str, Handler] = {
    "ping": handle_ping,
    "pull_request": handle_pull_request,
    "issue_comment": handle_issue_comment,
    "pull_request_review_comment": handle_review_comment,
    "installation": handle_installation,
    "installation_repositories": handle_installation_repositories,
}


def route(event: str, action: str | None) -> Handler | None:
    return ROUTES.get(event)
