"""The doctor's GitHub checks: the App's permissions and events against the manifest, its webhook, installations."""

from __future__ import annotations

from typing import Any

from reviewops.doctor import Result
from reviewops.errors import PermanentError, TransientError
from reviewops.github import manifest
from reviewops.github.client import GitHubApp
from reviewops.settings import Settings

MAX_INSTALLATIONS = 20
SETTINGS_PAGE = "GitHub → Settings → Developer settings → GitHub Apps → {slug} → Permissions & events"


def app_checks(settings: Settings) -> list[Result]:
    if not settings.github_app_configured:
        where = f"{settings.public_url.rstrip('/')}/github-app" if settings.public_url else "/github-app"
        return [
            Result(
                "github app",
                False,
                "no App configured (REVIEWOPS_GITHUB_APP_ID and a private key)",
                f"create it with the manifest page ({where} on the API) or set REVIEWOPS_GITHUB_APP_ID and "
                "REVIEWOPS_GITHUB_PRIVATE_KEY_FILE (chart: config.githubAppId, secrets.githubPrivateKey)",
            )
        ]
    gh = GitHubApp.from_settings(settings)
    try:
        try:
            app = gh.get_app()
        except (PermanentError, TransientError) as exc:
            return [
                Result(
                    "github app",
                    False,
                    f"GET /app failed: {exc}",
                    "check REVIEWOPS_GITHUB_APP_ID, that the private key is this App's (GitHub → the App → "
                    "Private keys) and REVIEWOPS_GITHUB_API_URL",
                )
            ]
        results = [
            Result("github app", True, f"{app.get('slug')} (id {app.get('id')})"),
            permissions(app),
            events(app),
            hook(gh, settings),
        ]
        results += installations(gh, app)
        return results
    finally:
        gh.close()


def permissions(app: dict[str, Any]) -> Result:
    missing = manifest.missing_permissions(app.get("permissions") or {})
    if missing:
        wanted = ", ".join(f"{name}: {level}" for name, level in sorted(missing.items()))
        return Result(
            "app permissions",
            False,
            f"missing {wanted}",
            f"{SETTINGS_PAGE.format(slug=app.get('slug'))}: set {wanted}; then each installation's owner accepts "
            "the new permissions (GitHub e-mails them; Settings → Applications → Configure)",
        )
    return Result("app permissions", True, "cover the manifest's " + ", ".join(sorted(manifest.PERMISSIONS)))


def events(app: dict[str, Any]) -> Result:
    missing = sorted(set(manifest.subscribed_events()) - set(app.get("events") or []))
    if missing:
        return Result(
            "app events",
            False,
            f"not subscribed to {', '.join(missing)}",
            f"{SETTINGS_PAGE.format(slug=app.get('slug'))} → Subscribe to events: tick " + ", ".join(missing),
        )
    return Result("app events", True, "subscribed to " + ", ".join(manifest.subscribed_events()))


def hook(gh: GitHubApp, settings: Settings) -> Result:
    try:
        config = gh.get_hook_config()
    except (PermanentError, TransientError) as exc:
        return Result(
            "app webhook", False, f"GET /app/hook/config failed: {exc}", "check the App's credentials"
        )
    page = "GitHub → Settings → Developer settings → GitHub Apps → the App → General → Webhook"
    url = str(config.get("url") or "")
    problems: list[tuple[str, str]] = []
    if settings.public_url:
        expected = settings.public_url.rstrip("/") + manifest.WEBHOOK_PATH
        if url != expected:
            problems.append(
                (f"URL is {url or 'empty'}, expected {expected}", f"{page}: set Webhook URL to {expected}")
            )
    elif not url.endswith(manifest.WEBHOOK_PATH):
        problems.append(
            (
                f"URL {url or 'empty'} does not end in {manifest.WEBHOOK_PATH}",
                f"{page}: set it to YOUR_URL/webhooks/github",
            )
        )
    if config.get("content_type") != "json":
        problems.append(
            (
                f"content type is {config.get('content_type')!r} (GitHub sends the payload form-encoded)",
                'set it to json: PATCH /app/hook/config {"content_type": "json"} with the App\'s JWT (Apps '
                "created from the manifest page are json from the start)",
            )
        )
    if not config.get("secret"):
        problems.append(
            (
                "no webhook secret set",
                f"{page}: set a secret and add it to REVIEWOPS_WEBHOOK_SECRETS (chart: secrets.webhookSecrets)",
            )
        )
    if problems:
        return Result(
            "app webhook", False, "; ".join(p for p, _ in problems), "; ".join(f for _, f in problems)
        )
    return Result("app webhook", True, f"{url}, json, secret set")


def installations(gh: GitHubApp, app: dict[str, Any]) -> list[Result]:
    install_url = (
        f"{app.get('html_url') or 'https://github.com/apps/' + str(app.get('slug'))}/installations/new"
    )
    try:
        found = gh.list_installations(max_items=MAX_INSTALLATIONS)
    except (PermanentError, TransientError) as exc:
        return [Result("installations", False, f"GET /app/installations failed: {exc}", "check the App")]
    if not found:
        return [
            Result(
                "installations",
                False,
                "the App is installed nowhere: no pull request will be reviewed",
                f"install it on a repository: {install_url}",
            )
        ]
    results = [Result("installations", True, f"{len(found)} installation(s)")]
    for item in found:
        login = (item.get("account") or {}).get("login", "?")
        name = f"installation {item['id']} ({login})"
        if item.get("suspended_at"):
            results.append(
                Result(name, False, "suspended", f"{login}: Settings → Applications → the App → Unsuspend")
            )
            continue
        try:
            total, repos = gh.installation(int(item["id"])).list_repositories()
        except (PermanentError, TransientError) as exc:
            results.append(Result(name, False, f"cannot list its repositories: {exc}", "check the App's key"))
            continue
        if total == 0:
            results.append(
                Result(
                    name,
                    False,
                    "no repository selected",
                    f"{login}: the App's Configure page → select repositories",
                )
            )
        else:
            shown = ", ".join(repos[:3]) + (" …" if total > 3 else "")
            results.append(Result(name, True, f"{total} repositories: {shown}"))
    return results
