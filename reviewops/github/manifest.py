"""The one description of what ReviewOps needs from GitHub: the App manifest (events, least-privilege permissions).

The manifest flow page, `reviewops github-app manifest`, `reviewops doctor`, the README's table and the tests all
read this module, so "what the App must be allowed to do" is written down once. The events are the event
router's (a test proves the lists equal); the permissions are stated here and a test proves they cover every
call in reviewops/github/client.py and every routed event, and that none is superfluous.
"""

from __future__ import annotations

from typing import Any

# GitHub delivers these to every App whatever it subscribes to; they cannot be put in `default_events`.
ALWAYS_DELIVERED = frozenset({"ping", "installation", "installation_repositories"})

LEVELS = ("none", "read", "write", "admin")

# The repository permission a webhook event needs before an App may subscribe to it (GitHub's "Webhook events
# and payloads": "To subscribe to this event, a GitHub App must have at least read-level access for ...").
EVENT_PERMISSION: dict[str, tuple[str, str]] = {
    "pull_request": ("pull_requests", "read"),
    "pull_request_review": ("pull_requests", "read"),
    "pull_request_review_comment": ("pull_requests", "read"),
    "pull_request_review_thread": ("pull_requests", "read"),
    "issue_comment": ("issues", "read"),
    "check_run": ("checks", "read"),
    "check_suite": ("checks", "read"),
    "push": ("contents", "read"),
}

# The permission each REST call needs (GitHub's "Permissions required for GitHub Apps"); None: an app-level call
# made with the App's JWT (or, for the manifest conversion, with no credential), which needs no repository
# permission. Issue-comment endpoints accept "Issues" or "Pull requests": ReviewOps comments only on pull
# requests, so it asks for pull requests and not for issues.
ENDPOINT_PERMISSION: dict[str, tuple[str, str] | None] = {
    "GET /app": None,
    "GET /app/hook/config": None,
    "GET /app/hook/deliveries": None,
    "POST /app/hook/deliveries/{delivery_id}/attempts": None,
    "GET /app/installations": None,
    "POST /app/installations/{installation_id}/access_tokens": None,
    "POST /app-manifests/{code}/conversions": None,
    "GET /installation/repositories": ("metadata", "read"),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}": ("pull_requests", "read"),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/files": ("pull_requests", "read"),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews": ("pull_requests", "read"),
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews": ("pull_requests", "write"),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}": ("pull_requests", "read"),
    "PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}": ("pull_requests", "write"),
    "PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals": (
        "pull_requests",
        "write",
    ),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments": ("pull_requests", "read"),
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies": (
        "pull_requests",
        "write",
    ),
    "GET /repos/{owner}/{repo}/pulls/comments/{comment_id}": ("pull_requests", "read"),
    "GET /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions": ("pull_requests", "read"),
    "POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions": ("pull_requests", "write"),
    "GET /repos/{owner}/{repo}/contents/{path}": ("contents", "read"),
    "GET /repos/{owner}/{repo}/compare/{base}...{head}": ("contents", "read"),
    "POST /repos/{owner}/{repo}/check-runs": ("checks", "write"),
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}": ("checks", "read"),
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}": ("checks", "write"),
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations": ("checks", "read"),
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs": ("checks", "read"),
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": ("pull_requests", "read"),
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": ("pull_requests", "write"),
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": ("pull_requests", "write"),
    "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": ("pull_requests", "write"),
}

# What the App asks for. Least privilege: each line is needed by a call or an event (tests/reviewops/github/
# test_manifest.py proves both directions). `metadata: read` is mandatory for every App.
PERMISSIONS: dict[str, str] = {
    "metadata": "read",
    "contents": "read",
    "pull_requests": "write",
    "checks": "write",
    "issues": "read",
}

# Why each permission is asked for (the README table's last column).
PERMISSION_REASONS: dict[str, str] = {
    "metadata": "mandatory for every App; lists the installation's repositories",
    "contents": "reads `.reviewops.yaml` and files of the pull request's head",
    "pull_requests": "reads pull requests and their files; posts the review, comments and reactions",
    "checks": "creates and updates the ReviewOps check run and its annotations",
    "issues": "lets the App subscribe to `issue_comment` (the `/reviewops` commands); nothing is written",
}

# The events the event router (reviewops/deliveries/routing.py) hands to a handler. Stated here rather than
# imported: the GitHub client's layer must not import the delivery lifecycle above it. A test proves the two
# lists are equal, so a new route without its event here (or an event here without a route) fails.
HANDLED_EVENTS = frozenset(
    {
        "ping",
        "pull_request",
        "issue_comment",
        "pull_request_review_comment",
        "installation",
        "installation_repositories",
    }
)

WEBHOOK_PATH = "/webhooks/github"
CALLBACK_PATH = "/github-app/callback"


def handled_events() -> list[str]:
    """Every event the event router handles (tests/reviewops/github/test_manifest.py compares with it)."""
    return sorted(HANDLED_EVENTS)


def subscribed_events() -> list[str]:
    """The events the App subscribes to: the handled ones GitHub does not send to every App anyway."""
    return sorted(set(handled_events()) - ALWAYS_DELIVERED)


def level_covers(granted: str | None, needed: str) -> bool:
    return LEVELS.index(granted or "none") >= LEVELS.index(needed)


def missing_permissions(granted: dict[str, str]) -> dict[str, str]:
    """The permissions (with their needed level) that `granted` (GET /app's `permissions`) lacks."""
    return {name: level for name, level in PERMISSIONS.items() if not level_covers(granted.get(name), level)}


def build_manifest(base_url: str, *, name: str = "ReviewOps", public: bool = False) -> dict[str, Any]:
    """The App manifest for a ReviewOps reachable at `base_url` (GitHub's "Registering a GitHub App from a
    manifest"). GitHub asks the user to confirm the name, so a taken name is no dead end."""
    base = base_url.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"the URL must start with https:// (or http:// for a local test), got {base_url!r}")
    return {
        "name": name,
        "url": base,
        "description": "Self-hosted AI code review: reviews pull requests with comments and a check run.",
        "hook_attributes": {"url": base + WEBHOOK_PATH, "active": True},
        "redirect_url": base + CALLBACK_PATH,
        "public": public,
        "default_permissions": dict(PERMISSIONS),
        "default_events": subscribed_events(),
    }


def markdown_table() -> str:
    """The README's table of permissions and events, generated from this description (a test compares)."""
    rows = ["| Permission | Access | Why |", "| --- | --- | --- |"]
    rows += [f"| `{name}` | {level} | {PERMISSION_REASONS[name]} |" for name, level in PERMISSIONS.items()]
    rows += [
        "",
        "| Event (handled by ReviewOps) | Subscription | Permission it needs |",
        "| --- | --- | --- |",
    ]
    for event in handled_events():
        if event in ALWAYS_DELIVERED:
            rows.append(f"| `{event}` | sent to every App | none |")
        else:
            perm, level = EVENT_PERMISSION[event]
            rows.append(f"| `{event}` | in the manifest | `{perm}`: {level} |")
    return "\n".join(rows)
