"""The GitHub App client: app-level calls (JWT) and per-installation calls (installation token).

Synchronous on purpose: dramatiq actors are synchronous, and one httpx.Client is shared by all threads.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import redis

from reviewops.github.auth import InstallationToken, TokenCache, app_jwt, parse_expiry
from reviewops.github.ratelimit import ContentLimiter
from reviewops.github.transport import Auth, NotFound, Transport, Unauthorized
from reviewops.settings import Settings

MAX_PR_FILES = 3000  # GitHub lists at most 3000 files of a pull request
CHECK_RUN_ANNOTATIONS_PER_REQUEST = 50

T_APP = "/app"
T_HOOK_CONFIG = "/app/hook/config"
T_INSTALLATIONS = "/app/installations"
T_MANIFEST_CONVERSION = "/app-manifests/{code}/conversions"
T_ACCESS_TOKENS = "/app/installations/{installation_id}/access_tokens"
T_INSTALLATION_REPOS = "/installation/repositories"
T_HOOK_DELIVERIES = "/app/hook/deliveries"
T_REDELIVER = "/app/hook/deliveries/{delivery_id}/attempts"
T_PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
T_PULL_FILES = "/repos/{owner}/{repo}/pulls/{pull_number}/files"
T_CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
T_REVIEWS = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
T_REVIEW = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}"
T_REVIEW_COMMENTS = "/repos/{owner}/{repo}/pulls/{pull_number}/comments"
T_CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
T_CHECK_RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"
T_ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
T_ISSUE_COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
T_REACTIONS = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
T_REVIEW_COMMENT = "/repos/{owner}/{repo}/pulls/comments/{comment_id}"
T_REVIEW_COMMENT_REACTIONS = "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions"


def split_repo(full_name: str) -> dict[str, str]:
    owner, sep, repo = full_name.partition("/")
    if not sep or not owner or not repo:
        raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
    return {"owner": owner, "repo": repo}


class GitHubApp:
    """Process-wide entry point: holds the key, the HTTP client, the token cache and the limiter."""

    def __init__(
        self,
        app_id: int,
        private_key_pem: str,
        *,
        api_url: str = "https://api.github.com",
        redis_client: redis.Redis | None = None,
        content_requests_per_minute: int = 80,
        content_requests_per_hour: int = 500,
        max_inline_wait: float = 10.0,
        max_write_wait: float = 0.0,
        timeout: float = 30.0,
        max_connections: int = 100,
        http: httpx.Client | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.app_id = app_id
        self._key = private_key_pem
        # One pool per process, shared by all its threads: as many connections as reviews in flight (a
        # review makes one GitHub request at a time), all kept alive between requests.
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        http = http or httpx.Client(timeout=timeout, limits=limits)
        self.transport = transport or Transport(
            api_url,
            limiter=ContentLimiter(
                content_requests_per_minute, redis_client, per_hour=content_requests_per_hour
            ),
            max_inline_wait=max_inline_wait,
            max_write_wait=max_write_wait,
            timeout=timeout,
            http=http,
        )
        self.tokens = TokenCache(self.create_installation_token)
        self._app_auth = Auth("jwt", self.jwt, 0)

    @classmethod
    def from_settings(cls, settings: Settings, redis_client: redis.Redis | None = None) -> GitHubApp:
        pem = settings.private_key_pem()
        if settings.github_app_id is None or not pem:
            raise ValueError("REVIEWOPS_GITHUB_APP_ID and a private key are needed for the GitHub App")
        return cls(
            settings.github_app_id,
            pem,
            api_url=settings.github_api_url,
            redis_client=redis_client,
            content_requests_per_minute=settings.github_content_requests_per_minute,
            content_requests_per_hour=settings.github_content_requests_per_hour,
            max_inline_wait=settings.github_max_inline_wait_seconds,
            max_write_wait=settings.github_max_write_wait_seconds,
            timeout=settings.github_request_timeout_seconds,
            max_connections=settings.worker_thread_count + 4,
        )

    def close(self) -> None:
        self.transport.close()

    def jwt(self) -> str:
        return app_jwt(self.app_id, self._key)

    def __repr__(self) -> str:  # the key never shows up in logs or tracebacks
        return f"GitHubApp(app_id={self.app_id})"

    # --- app-level (JWT) ---

    def create_installation_token(self, installation_id: int) -> InstallationToken:
        response = self.transport.request(
            "POST", T_ACCESS_TOKENS, self._app_auth, path_params={"installation_id": installation_id}
        )
        body = response.json()
        return InstallationToken(token=body["token"], expires_at=parse_expiry(body["expires_at"]))

    def list_hook_deliveries(
        self, *, per_page: int = 100, status: str | None = None, max_items: int | None = None
    ) -> Iterator[Any]:
        """The app webhook's recent deliveries, newest first (cursor pagination through Link headers).

        `status`: "success" or "failure" (GitHub filters by status_code range). Lazy: stop iterating to
        stop fetching pages."""
        params: dict[str, str | int] = {"per_page": per_page}
        if status is not None:
            if status not in ("success", "failure"):
                raise ValueError(f"status must be 'success' or 'failure', got {status!r}")
            params["status"] = status
        return self.transport.paginate(T_HOOK_DELIVERIES, self._app_auth, params=params, max_items=max_items)

    def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (202)."""
        self.transport.request("POST", T_REDELIVER, self._app_auth, path_params={"delivery_id": delivery_id})

    def get_app(self) -> dict[str, Any]:
        """The App itself: its slug, owner, granted `permissions` and subscribed `events` (doctor)."""
        result: dict[str, Any] = self.transport.request("GET", T_APP, self._app_auth).json()
        return result

    def get_hook_config(self) -> dict[str, Any]:
        """The App's webhook: `url`, `content_type`, `secret` (masked by GitHub), `insecure_ssl`."""
        result: dict[str, Any] = self.transport.request("GET", T_HOOK_CONFIG, self._app_auth).json()
        return result

    def list_installations(self, *, max_items: int | None = None) -> list[dict[str, Any]]:
        return list(self.transport.paginate(T_INSTALLATIONS, self._app_auth, max_items=max_items))

    def installation(self, installation_id: int) -> InstallationClient:
        return InstallationClient(self, installation_id)


def convert_manifest_code(transport: Transport, code: str) -> dict[str, Any]:
    """Exchange the manifest flow's one-hour code for the new App's id, PEM key and webhook secret.

    Needs no credential (the code is the credential), so it takes a bare transport."""
    response = transport.request(
        "POST", T_MANIFEST_CONVERSION, Auth("none", lambda: "", 0), path_params={"code": code}
    )
    result: dict[str, Any] = response.json()
    return result


class InstallationClient:
    """Calls made as one installation. Cheap to create; the token comes from the app's shared cache."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id
        self.auth = Auth("token", lambda: app.tokens.get(installation_id), installation_id)

    def _call(self, method: str, template: str, path_params: dict[str, Any], **kw: Any) -> Any:
        try:
            response = self.app.transport.request(method, template, self.auth, path_params=path_params, **kw)
        except Unauthorized:
            # The cached token was revoked or expired early: fetch a new one and try once more.
            self.app.tokens.invalidate(self.installation_id)
            response = self.app.transport.request(method, template, self.auth, path_params=path_params, **kw)
        return response.json() if response.content else None

    def _list(self, template: str, path_params: dict[str, Any], max_items: int | None = None) -> list[Any]:
        def fetch() -> list[Any]:
            pages = self.app.transport.paginate(
                template, self.auth, path_params=path_params, max_items=max_items
            )
            return list(pages)

        try:
            return fetch()
        except Unauthorized:
            self.app.tokens.invalidate(self.installation_id)
            return fetch()

    def list_repositories(self) -> tuple[int, list[str]]:
        """How many repositories this installation may access, and the first 100 full names (doctor)."""
        body = self._call("GET", T_INSTALLATION_REPOS, {}, params={"per_page": 100})
        names = [str(repo["full_name"]) for repo in body.get("repositories", [])]
        return int(body.get("total_count", len(names))), names

    # --- pull requests ---

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", T_PULL, {**split_repo(repo), "pull_number": number})
        return result

    def list_pull_files(self, repo: str, number: int, max_files: int = MAX_PR_FILES) -> list[dict[str, Any]]:
        return self._list(T_PULL_FILES, {**split_repo(repo), "pull_number": number}, max_files)

    def get_file_text(self, repo: str, path: str, ref: str) -> str | None:
        """A file's text at `ref` (a branch, tag or SHA); None when it does not exist there."""
        try:
            body = self._call(
                "GET", T_CONTENTS, {**split_repo(repo), "path": path.lstrip("/")}, params={"ref": ref}
            )
        except NotFound:
            return None
        if not isinstance(body, dict) or body.get("type") != "file":
            return None
        if body.get("encoding") == "base64":
            return base64.b64decode(body.get("content") or "").decode("utf-8", errors="replace")
        return str(body.get("content") or "")

    # --- reviews ---

    def create_review(
        self, repo: str, number: int, *, commit_id: str, body: str, comments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One submitted review (event COMMENT) with inline comments (path/line/side[/start_line])."""
        payload = {"commit_id": commit_id, "body": body, "event": "COMMENT", "comments": comments}
        result: dict[str, Any] = self._call(
            "POST", T_REVIEWS, {**split_repo(repo), "pull_number": number}, json=payload
        )
        return result

    def update_review(self, repo: str, number: int, review_id: int, body: str) -> dict[str, Any]:
        """Replace a submitted review's body (its inline comments stay): the PR's summary, edited in place."""
        result: dict[str, Any] = self._call(
            "PUT", T_REVIEW, {**split_repo(repo), "pull_number": number, "review_id": review_id},
            json={"body": body},
        )  # fmt: skip
        return result

    def list_reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._list(T_REVIEWS, {**split_repo(repo), "pull_number": number})

    def list_review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._list(T_REVIEW_COMMENTS, {**split_repo(repo), "pull_number": number})

    # --- check runs ---

    def create_check_run(self, repo: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", T_CHECK_RUNS, split_repo(repo), json=fields)
        return result

    def update_check_run(self, repo: str, check_run_id: int, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PATCH", T_CHECK_RUN, {**split_repo(repo), "check_run_id": check_run_id}, json=fields
        )
        return result

    def add_annotations(
        self, repo: str, check_run_id: int, output: dict[str, Any], annotations: list[dict[str, Any]]
    ) -> int:
        """Annotations in batches of 50 (GitHub's per-request cap), through updates; returns requests made."""
        requests = 0
        for start in range(0, len(annotations), CHECK_RUN_ANNOTATIONS_PER_REQUEST):
            batch = annotations[start : start + CHECK_RUN_ANNOTATIONS_PER_REQUEST]
            self.update_check_run(repo, check_run_id, output={**output, "annotations": batch})
            requests += 1
        return requests

    # --- issue comments and reactions ---

    def list_issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._list(T_ISSUE_COMMENTS, {**split_repo(repo), "issue_number": number})

    def find_issue_comment(self, repo: str, number: int, marker: str) -> dict[str, Any] | None:
        """The first comment of ours whose body contains `marker` (a hidden HTML comment)."""
        for comment in self.list_issue_comments(repo, number):
            if marker in (comment.get("body") or "") and (comment.get("user") or {}).get("type") == "Bot":
                return dict(comment)
        return None

    def create_issue_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", T_ISSUE_COMMENTS, {**split_repo(repo), "issue_number": number}, json={"body": body}
        )
        return result

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PATCH", T_ISSUE_COMMENT, {**split_repo(repo), "comment_id": comment_id}, json={"body": body}
        )
        return result

    def add_reaction(self, repo: str, comment_id: int, content: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", T_REACTIONS, {**split_repo(repo), "comment_id": comment_id}, json={"content": content}
        )
        return result

    def get_review_comment(self, repo: str, comment_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", T_REVIEW_COMMENT, {**split_repo(repo), "comment_id": comment_id}
        )
        return result

    def add_review_comment_reaction(self, repo: str, comment_id: int, content: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", T_REVIEW_COMMENT_REACTIONS, {**split_repo(repo), "comment_id": comment_id},
            json={"content": content},
        )  # fmt: skip
        return result
