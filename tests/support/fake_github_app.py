"""The fake GitHub's App side: GET /app, its webhook config, installations and their repositories, and the
manifest flow (the github.com form that creates an App, then POST /app-manifests/{code}/conversions).

Answers are GitHub's own examples with the fields the tests control overridden; FakeGitHub validates them
against the REST description like every other answer. The web form is not part of the REST API, so the
handler serves it before the REST validation.
"""

from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from reviewops.github import manifest
from tests.support import github_objects as obj
from tests.support.github_app import generate_key_pair

APP_TEMPLATES = frozenset(
    {"/app", "/app/hook/config", "/app/installations", "/installation/repositories",
     "/app-manifests/{code}/conversions"}
)  # fmt: skip
# GitHub's documented manifest parameters ("Registering a GitHub App from a manifest").
MANIFEST_KEYS = frozenset(
    {"name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description", "public",
     "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update"}
)  # fmt: skip


@dataclass
class FakeInstallation:
    id: int
    account: str
    repos: list[str]
    suspended: bool = False


@dataclass
class AppSide:
    """What GitHub knows about the App. Tests change these fields to make the doctor find problems."""

    slug: str = "reviewops-test"
    permissions: dict[str, str] = field(default_factory=lambda: dict(manifest.PERMISSIONS))
    events: list[str] = field(default_factory=manifest.subscribed_events)
    hook_url: str = "https://reviews.example.com/webhooks/github"
    content_type: str = "json"
    secret_set: bool = True
    installations: list[FakeInstallation] = field(default_factory=list)
    pending: dict[str, tuple[dict[str, Any], str, str | None]] = field(default_factory=dict)  # token -> form
    codes: dict[str, tuple[dict[str, Any], str | None]] = field(default_factory=dict)  # code -> manifest, org
    created: list[dict[str, Any]] = field(default_factory=list)  # conversions answered (with pem, secret)


def dispatch(
    fake: Any, method: str, template: str, params: dict[str, str]
) -> tuple[int, Any, dict[str, str]]:
    side: AppSide = fake.app_side
    if template == "/app":
        return 200, _integration(fake, side), {}
    if template == "/app/hook/config":
        config = obj.example("webhook-config")
        config.update(url=side.hook_url, content_type=side.content_type, secret="********")
        if not side.secret_set:  # GitHub leaves the key out when no secret is set
            del config["secret"]
        return 200, config, {}
    if template == "/app/installations":
        items = []
        for inst in side.installations:
            item = obj.example("base-installation-items")[0]
            item.update(id=inst.id, app_id=fake.app_id, app_slug=side.slug, suspended_at=None)
            # The description's subset says allOf(simple-user, enterprise) where GitHub says anyOf: carry both.
            now = obj.now_iso()
            item["account"].update(
                login=inst.account, name=inst.account, slug=inst.account, created_at=now, updated_at=now
            )
            if inst.suspended:
                item["suspended_at"] = obj.now_iso()
            items.append(item)
        return 200, items, {}
    if template == "/installation/repositories":
        installation_id = fake.current_installation
        inst = next((i for i in side.installations if i.id == installation_id), None)
        repos = []
        for name in inst.repos if inst else []:
            repo = obj.example("repository-paginated-2")["repositories"][0]
            repo.update(full_name=name, name=name.split("/")[1])
            repos.append(repo)
        return 200, {"total_count": len(repos), "repositories": repos}, {}
    if template == "/app-manifests/{code}/conversions":
        found = side.codes.pop(params["code"], None)
        if found is None:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
        wanted, _org = found
        private, public = generate_key_pair()
        fake.app_id = next(fake.ids)
        fake.public_key_pem = public  # from now on only JWTs signed with the new App's key are accepted
        side.slug = str(wanted["name"]).lower().replace(" ", "-")
        side.permissions = dict(wanted.get("default_permissions") or {})
        side.events = list(wanted.get("default_events") or [])
        side.hook_url = wanted["hook_attributes"]["url"]
        side.content_type, side.secret_set = "json", True
        answer = obj.example("integration-from-manifest")
        answer.update(_integration(fake, side))
        answer.update(pem=private, webhook_secret=secrets.token_hex(20), client_secret=secrets.token_hex(20))
        side.created.append(answer)
        return 201, answer, {}
    return 404, {"message": "Not Found"}, {}


def _integration(fake: Any, side: AppSide) -> dict[str, Any]:
    app = obj.example("integration")
    app.update(
        id=fake.app_id, slug=side.slug, name=side.slug, permissions=dict(side.permissions), events=list(side.events),
        html_url=f"{fake.url}/apps/{side.slug}",
    )  # fmt: skip
    return app


def web(fake: Any, method: str, path: str, query: str, body: bytes) -> tuple[int, str, dict[str, str]] | None:
    """github.com's side of the manifest flow; None for paths that are not part of it."""
    side: AppSide = fake.app_side
    if path == "/favicon.ico":  # the browser's own request on the form's page
        return 404, "", {}
    org = None
    if path.startswith("/organizations/") and path.endswith("/settings/apps/new"):
        org = path.split("/")[2]
    elif path != "/settings/apps/new" and path != "/settings/apps/confirm":
        return None
    if method != "POST":
        fake.violations.append(f"{method} {path}: the manifest form is posted")
        return 405, "method not allowed", {}
    form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    if path == "/settings/apps/confirm":
        wanted, state, org = side.pending.pop(form.get("pending", ""), ({}, "", None))
        if not wanted:
            return 400, "unknown form", {}
        code = secrets.token_hex(10)
        side.codes[code] = (wanted, org)
        target = wanted["redirect_url"] + "?" + urlencode({"code": code, "state": state})
        return 302, "", {"Location": target}
    state = parse_qs(query).get("state", [""])[-1]
    try:
        wanted = json.loads(form.get("manifest", ""))
    except ValueError:
        fake.violations.append("manifest form: `manifest` is not JSON")
        return 400, "invalid manifest", {}
    unknown = set(wanted) - MANIFEST_KEYS
    missing = {"url", "hook_attributes", "redirect_url"} - set(wanted)
    if unknown or missing or not state:
        fake.violations.append(f"manifest form: unknown {unknown}, missing {missing}, state {state!r}")
        return 422, "invalid manifest", {}
    token = secrets.token_hex(8)
    side.pending[token] = (wanted, state, org)
    owner = f"the organization {org}" if org else "your personal account"
    page = f"""<!doctype html><html><head><title>Create GitHub App</title></head><body>
<h1 id="app-name">{html.escape(str(wanted.get("name")))}</h1><p id="owner">Owned by {html.escape(owner)}</p>
<form method="post" action="/settings/apps/confirm"><input type="hidden" name="pending" value="{token}">
<button id="create" type="submit">Create GitHub App for {html.escape(org or "you")}</button></form></body></html>"""
    return 200, page, {"Content-Type": "text/html; charset=utf-8"}
