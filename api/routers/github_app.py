"""The GitHub App manifest flow: a page that creates the App on GitHub, and the callback that keeps its credentials.

Open while no App is configured (a new installation has no admin to ask yet), behind the admin token after that
(as Basic auth's password, so a browser can send it). The form carries a random `state` that is also set as a
SameSite=Lax, HttpOnly cookie scoped to /github-app; the callback accepts a code only with the matching pair
(CSRF: nobody can make a browser complete someone else's flow). The code is exchanged with
`POST /app-manifests/{code}/conversions`; the embedded `serve` keeps the credentials in its data directory,
a cluster shows them once with the commands that store them in a Secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import json
import re
import secrets
import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from reviewops.errors import PermanentError, TransientError
from reviewops.github import manifest, stored_app
from reviewops.github.client import convert_manifest_code
from reviewops.github.ratelimit import ContentLimiter
from reviewops.github.transport import Transport
from reviewops.settings import Settings

router = APIRouter(prefix="/github-app", include_in_schema=False)

STATE_COOKIE = "reviewops_github_app_state"
STATE_MAX_AGE_SECONDS = 3600  # GitHub's manifest codes live one hour too
ORG_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
    "pre{white-space:pre-wrap;background:#f4f4f4;padding:.8rem;overflow-wrap:anywhere}"
)


def _page(title: str, body: str, *, status: int = 200, form_target: str = "") -> HTMLResponse:
    policy = f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {form_target}".strip()
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(text, status_code=status, headers=headers)


def app_configured(settings: Settings) -> bool:
    return settings.github_app_configured or (settings.embedded and stored_app.load() is not None)


def admin_allowed(settings: Settings, authorization: str | None) -> bool:
    """The admin token as a Bearer token or as Basic auth's password (any user name)."""
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    scheme, _, value = (authorization or "").partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _locked(settings: Settings) -> HTMLResponse:
    why = "Sign in with the admin token as the password." if settings.admin_token else (
        "An App is configured and REVIEWOPS_ADMIN_TOKEN is unset, so this page is closed."
    )  # fmt: skip
    response = _page("GitHub App already configured", f"<p>{why}</p>", status=401)
    response.headers["WWW-Authenticate"] = 'Basic realm="ReviewOps admin", charset="UTF-8"'
    return response


def base_url(settings: Settings, request: Request) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


@router.get("")
async def manifest_page(
    request: Request,
    settings: SettingsDep,
    org: Annotated[str | None, Query(pattern=ORG_PATTERN, max_length=39)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    """The page: one button that posts the manifest to GitHub (for your account, or for `org`)."""
    if app_configured(settings) and not admin_allowed(settings, authorization):
        return _locked(settings)
    web = settings.github_web_url.rstrip("/")
    state = secrets.token_urlsafe(32)
    built = manifest.build_manifest(base_url(settings, request))
    owner = f"/organizations/{org}" if org else ""
    action = f"{web}{owner}/settings/apps/new?state={state}"
    who = f"the organisation <b>{html.escape(org)}</b>" if org else "your personal account"
    rows = "".join(
        f"<li><code>{html.escape(name)}</code>: {level}</li>"
        for name, level in built["default_permissions"].items()
    )
    body = f"""
<p>ReviewOps runs as a GitHub App. This button creates one on GitHub for {who}, with the webhook URL
<code>{html.escape(built["hook_attributes"]["url"])}</code> and only these permissions:</p><ul>{rows}</ul>
<p>Events: {", ".join(f"<code>{e}</code>" for e in built["default_events"])}.</p>
<form id="manifest-form" method="post" action="{html.escape(action)}">
<input type="hidden" name="manifest" value="{html.escape(json.dumps(built))}">
<button id="create" type="submit">Create the GitHub App for {html.escape(org or "my account")}</button></form>
<form method="get" action="/github-app"><p>Or for an organisation you administer:
<input id="org" name="org" pattern="[A-Za-z0-9][A-Za-z0-9-]*" maxlength="39" placeholder="organisation" required>
<button id="choose-org" type="submit">Use this organisation</button></p></form>"""
    response = _page("Create the ReviewOps GitHub App", body, form_target=web)
    response.set_cookie(
        STATE_COOKIE, state, max_age=STATE_MAX_AGE_SECONDS, path="/github-app", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/callback")
async def manifest_callback(
    request: Request,
    settings: SettingsDep,
    code: Annotated[str, Query(max_length=128)] = "",
    state: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    """GitHub sends the browser back here with a one-hour code; the matching state cookie proves the flow
    began on this server's page, in this browser."""
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        return _page(
            "This link is not from your manifest flow",
            "<p>The state does not match the one this browser was given. "
            "<a href='/github-app'>Start again</a>.</p>",
            status=400,
        )
    if not CODE_PATTERN.match(code):
        return _page("No code from GitHub", "<p><a href='/github-app'>Start again</a>.</p>", status=400)
    transport = Transport(
        settings.github_api_url, limiter=ContentLimiter(60), max_inline_wait=0,
        timeout=settings.github_request_timeout_seconds,
    )  # fmt: skip
    try:
        created = await run_in_threadpool(convert_manifest_code, transport, code)
    except (PermanentError, TransientError) as exc:
        return _page(
            "GitHub did not hand over the App", f"<p>{html.escape(str(exc))}</p><p>The code lives one hour "
            "and works once: <a href='/github-app'>start again</a>.</p>", status=502,
        )  # fmt: skip
    finally:
        transport.close()
    response = _stored_page(created) if settings.embedded else _secret_page(created)
    response.delete_cookie(STATE_COOKIE, path="/github-app")
    return response


def _install_link(created: dict[str, Any]) -> str:
    url = f"{created.get('html_url')}/installations/new"
    return f"<a id='install' href='{html.escape(url)}'>{html.escape(url)}</a>"


def _stored_page(created: dict[str, Any]) -> HTMLResponse:
    path = stored_app.store(created)
    body = f"""<p id="result">The App <b>{html.escape(str(created.get("slug")))}</b> (id
<span id="app-id">{int(created["id"])}</span>) was created, and its private key and webhook secret are stored in
<code>{html.escape(str(path.parent))}</code> (files readable only by you).</p>
<ol><li>Restart <code>reviewops serve</code> so it uses them.</li>
<li>Install the App on a repository: {_install_link(created)}</li>
<li>Run <code>reviewops doctor</code>, then open a pull request.</li></ol>"""
    return _page("GitHub App created", body)


def secret_commands(created: dict[str, Any]) -> tuple[str, str]:
    """The shell commands that put a new App into a Helm release: (chart-managed Secret, your own Secret)."""
    app_id = int(created["id"])
    hook = shlex.quote(str(created.get("webhook_secret") or ""))
    key = [
        "export NAMESPACE=reviewops RELEASE=reviewops CHART=./charts/reviewops   # yours",
        "cat > reviewops-github-app.pem <<'EOF'",
        str(created["pem"]).strip(),
        "EOF",
    ]
    managed = [
        *key,
        'helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \\',
        f"  --set config.githubAppId={app_id} \\",
        "  --set-file secrets.githubPrivateKey=reviewops-github-app.pem \\",
        f"  --set-string secrets.webhookSecrets[0]={hook}",
        "rm reviewops-github-app.pem",
    ]
    own = [
        *key,
        "export SECRET=reviewops-secrets   # your secrets.existingSecret",
        'kubectl create secret generic "$SECRET" --namespace "$NAMESPACE" \\',
        "  --from-file=github-private-key=reviewops-github-app.pem \\",
        f"  --from-literal=webhook-secrets={hook} \\",
        '  --from-literal=database-url="$DATABASE_URL" --from-literal=redis-url="$REDIS_URL" \\',
        '  --from-literal=admin-token="$ADMIN_TOKEN" --from-literal=llm-api-key="$LLM_API_KEY" \\',
        "  --dry-run=client -o yaml | kubectl apply -f -",
        'helm upgrade "$RELEASE" "$CHART" --namespace "$NAMESPACE" --reuse-values \\',
        f'  --set secrets.existingSecret="$SECRET" --set config.githubAppId={app_id}',
        "rm reviewops-github-app.pem",
    ]
    return "\n".join(managed), "\n".join(own)


def _secret_page(created: dict[str, Any]) -> HTMLResponse:
    """Shown once: nothing is stored server-side, so this page is the only copy of the key."""
    managed, own = secret_commands(created)
    body = f"""<p id="result">The App <b>{html.escape(str(created.get("slug")))}</b> (id
<span id="app-id">{int(created["id"])}</span>) was created. <b>This page is the only copy of its private key and
webhook secret</b>: nothing was stored here, and reloading it will not show them again. Run one of these now.</p>
<h2>The chart keeps the Secret (default)</h2><pre id="commands-managed">{html.escape(managed)}</pre>
<h2>You keep the Secret (<code>secrets.existingSecret</code>)</h2><pre id="commands-own">{html.escape(own)}</pre>
<p>Then install the App on a repository: {_install_link(created)}, and run
<code>helm test "$RELEASE" -n "$NAMESPACE"</code> (the doctor).</p>"""
    return _page("GitHub App created", body)
