"""A fake GitHub REST API: a real HTTP server on 127.0.0.1 that validates every request and response
against GitHub's OpenAPI description (tests/fixtures/github-rest/openapi-subset.json) with openapi-core.

Anything off-contract (unknown path, bad query or body, a review comment outside the diff, wrong auth, more
than 50 annotations, a response that does not match its schema) is recorded in `violations`; the
`fake_github` fixture fails the test at teardown when there are any.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from openapi_core.testing import MockRequest, MockResponse

from tests.support import fake_github_app
from tests.support import github_objects as obj
from tests.support.github_contract import (
    comment_problem,
    describe,
    match_template,
    only_nullable_enum_quirk,
    openapi,
)
from tests.support.servers import BackloggedServer

SPEC_SERVER = "https://api.github.com"


@dataclass
class Call:
    method: str
    path: str
    template: str | None
    query: dict[str, str]
    body: Any
    status: int = 0
    auth: str = ""
    at: float = field(default_factory=time.time)  # when it arrived (wall clock, like a webhook's send time)


@dataclass
class Failure:
    status: int
    headers: dict[str, str]
    message: str
    method: str | None
    template: str | None


@dataclass
class FakePull:
    number: int
    head_sha: str
    base_sha: str
    head_ref: str
    base_ref: str
    title: str
    body: str
    files: list[dict[str, Any]]


@dataclass
class FakeRepo:
    full_name: str
    id: int
    pulls: dict[int, FakePull] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)  # (ref, path) -> text
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issue_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: list[tuple[int, str]] = field(default_factory=list)


class FakeGitHub:
    """State plus a server thread. Seed it from tests; read `calls` and the state back to assert."""

    def __init__(
        self, *, app_id: int = 4242, public_key_pem: str | None = None, latency: float = 0.0
    ) -> None:
        self.app_id = app_id
        self.latency = latency  # seconds every REST answer waits, like a real API's round trip (benchmarks)
        self.public_key_pem = public_key_pem
        self.repos: dict[str, FakeRepo] = {}
        self.suspended: set[int] = set()
        self.tokens: dict[str, int] = {}  # token -> installation id
        self.deliveries: list[dict[str, Any]] = []
        self.redelivered: list[int] = []
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.failures: list[Failure] = []
        self.app_side = fake_github_app.AppSide()  # GET /app, hook config, installations, manifest flow
        self.current_installation: int | None = None  # whose token the request being dispatched carries
        self.ids = itertools.count(1000)
        self.lock = threading.RLock()
        self.server = BackloggedServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-github", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- seeding ---

    def add_repo(self, full_name: str) -> FakeRepo:
        with self.lock:
            return self.repos.setdefault(full_name, FakeRepo(full_name, next(self.ids)))

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        files: list[dict[str, Any]],
        base_sha: str = "b" * 40,
        base_ref: str = "main",
        head_ref: str = "feature",
        title: str = "A change",
        body: str = "",
    ) -> FakePull:
        """`files`: dicts with filename, status, patch (None for binary), previous_filename."""
        pull = FakePull(number, head_sha, base_sha, head_ref, base_ref, title, body, files)
        with self.lock:
            self.add_repo(repo).pulls[number] = pull
        return pull

    def set_file(self, repo: str, path: str, text: str, *, ref: str) -> None:
        with self.lock:
            self.add_repo(repo).contents[(ref, path)] = text

    def add_delivery(self, **fields: Any) -> dict[str, Any]:
        item = {
            "id": next(self.ids),
            "guid": secrets.token_hex(8),
            "delivered_at": obj.now_iso(),
            "redelivery": False,
            "duration": 0.1,
            "status": "OK",
            "status_code": 200,
            "event": "ping",
            "action": None,
            "installation_id": None,
            "repository_id": None,
            **fields,
        }
        with self.lock:
            self.deliveries.insert(0, item)  # GitHub lists newest first
        return item

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        headers: dict[str, str] | None = None,
        message: str = "injected failure",
        method: str | None = None,
        template: str | None = None,
    ) -> None:
        """The next `count` matching requests get `status` instead of their real answer."""
        with self.lock:
            for _ in range(count):
                self.failures.append(Failure(status, headers or {}, message, method, template))

    def revoke_tokens(self) -> None:
        """Forget every installation token (as if they expired early); clients must fetch new ones."""
        with self.lock:
            self.tokens.clear()

    # --- reading back ---

    def calls_to(self, template: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.template == template and (method is None or c.method == method)]

    def content_calls(self) -> list[Call]:
        return [c for c in self.calls if c.method in {"POST", "PATCH", "PUT", "DELETE"}]

    def sent_text(self) -> str:
        """Everything the client sent, as one string (to check nothing secret went out)."""
        return "\n".join(json.dumps(c.body) for c in self.calls if c.body is not None)

    # --- request handling (called from server threads) ---

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
            self.violations.append(f"{method} {path}: body is not JSON")
        found = match_template(path)
        call = Call(
            method, path, found[0] if found else None, query, data, auth=headers.get("authorization", "")
        )
        with self.lock:
            self.calls.append(call)
        if found is None or method not in found[2]:
            self.violations.append(f"{method} {path}: no such operation in GitHub's API description")
            call.status = 404
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
        template, params, _ = found
        checked_path = path
        if template == "/repos/{owner}/{repo}/contents/{path}":
            # GitHub's `{path}` spans folders (`src/app/main.py`); openapi-core matches one segment per
            # parameter, so the contract check sees the folder separators percent-encoded.
            checked_path = path[: len(path) - len(params["path"])] + params["path"].replace("/", "%2F")
        request = MockRequest(
            SPEC_SERVER,
            method.lower(),
            checked_path,
            args=query,
            headers=headers,
            data=body or None,
            content_type=headers.get("content-type", "application/json"),
        )
        request_errors = [describe(err) for err in openapi().iter_request_errors(request)]
        for problem in request_errors:
            self.violations.append(f"{method} {template}: request invalid: {problem}")
        if request_errors:  # GitHub answers 422 to a body or query it cannot accept
            call.status = 422
            return (
                422,
                {"message": "Invalid request.", "documentation_url": "https://docs.github.com/rest"},
                {},
            )
        failure = self._take_failure(method, template)
        if failure is not None:
            call.status = failure.status
            return (
                failure.status,
                {"message": failure.message, "documentation_url": "https://docs.github.com"},
                failure.headers,
            )
        auth_problem = self._check_auth(template, params, call.auth)
        if auth_problem:
            status, msg = auth_problem
            call.status = status
            return status, {"message": msg, "documentation_url": "https://docs.github.com/rest"}, {}
        with self.lock:
            self.current_installation = self.tokens.get(call.auth.partition(" ")[2])
            status, payload, extra = self._dispatch(method, template, params, query, data)
        call.status = status
        response = MockResponse(
            json.dumps(payload).encode() if payload is not None else b"", status_code=status, headers=extra
        )
        for err in openapi().iter_response_errors(request, response):
            if not only_nullable_enum_quirk(err):
                self.violations.append(f"{method} {template}: response {status} invalid: {describe(err)}")
        return status, payload, extra

    def _take_failure(self, method: str, template: str) -> Failure | None:
        with self.lock:
            for i, f in enumerate(self.failures):
                if (f.method in (None, method)) and (f.template in (None, template)):
                    return self.failures.pop(i)
        return None

    def _check_auth(self, template: str, params: dict[str, str], auth: str) -> tuple[int, str] | None:
        scheme, _, credential = auth.partition(" ")
        if template == "/app-manifests/{code}/conversions":
            return None  # the one-hour code is the credential
        if template == "/app" or template.startswith("/app/"):
            if scheme.lower() != "bearer":
                self.violations.append(f"{template}: app endpoints need the app JWT, got {scheme or 'none'}")
                return 401, "A JSON web token could not be decoded"
            try:
                claims = jwt.decode(
                    credential,
                    self.public_key_pem or "",
                    algorithms=["RS256"],
                    options={"verify_signature": self.public_key_pem is not None},
                )
            except jwt.PyJWTError as exc:
                self.violations.append(f"{template}: bad JWT ({exc})")
                return 401, "A JSON web token could not be decoded"
            if str(claims.get("iss")) != str(self.app_id) or claims["exp"] - claims["iat"] > 600:
                self.violations.append(f"{template}: JWT claims wrong: {claims}")
                return 401, "'Expiration time' claim ('exp') is too far in the future"
            installation = params.get("installation_id")
            if installation and int(installation) in self.suspended:
                return 403, "This installation has been suspended"
            return None
        if scheme.lower() != "token":
            self.violations.append(f"{template}: repository endpoints need an installation token")
            return 401, "Bad credentials"
        if credential not in self.tokens:  # revoked or expired: GitHub's real answer, not a client bug
            return 401, "Bad credentials"
        if self.tokens[credential] in self.suspended:
            return 403, "This installation has been suspended"
        return None

    def _repo(self, params: dict[str, str]) -> FakeRepo | None:
        return self.repos.get(f"{params['owner']}/{params['repo']}")

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> tuple[list[Any], dict[str, str]]:
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return chunk, headers

    def _dispatch(
        self, method: str, template: str, params: dict[str, str], query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        not_found = (404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {})
        path = template
        for k, v in params.items():
            path = path.replace("{" + k + "}", v)
        if template in fake_github_app.APP_TEMPLATES:
            return fake_github_app.dispatch(self, method, template, params)
        if template == "/app/installations/{installation_id}/access_tokens":
            token = "ghs_" + secrets.token_hex(18)
            self.tokens[token] = int(params["installation_id"])
            expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, obj.installation_token(token, expires), {}
        if template == "/app/hook/deliveries":
            per_page = int(query.get("per_page", 30))
            start = int(query.get("cursor") or 0)
            wanted = query.get("status")
            listed = [
                d for d in self.deliveries
                if wanted is None or (d["status_code"] < 400) == (wanted == "success")
            ]  # fmt: skip
            chunk = listed[start : start + per_page]
            headers = {}
            if start + per_page < len(listed):
                status_q = f"&status={wanted}" if wanted else ""
                headers["Link"] = (
                    f'<{self.url}{path}?per_page={per_page}{status_q}&cursor={start + per_page}>; rel="next"'
                )
            return 200, [obj.hook_delivery_item(d) for d in chunk], headers
        if template == "/app/hook/deliveries/{delivery_id}/attempts":
            self.redelivered.append(int(params["delivery_id"]))
            return 202, {}, {}
        repo = self._repo(params)
        if repo is None:
            return not_found
        name = repo.full_name
        if "pull_number" in params:
            pull = repo.pulls.get(int(params["pull_number"]))
            if pull is None:
                return not_found
            number = pull.number
            if template == "/repos/{owner}/{repo}/pulls/{pull_number}":
                return (
                    200,
                    obj.pull_request(
                        name,
                        number,
                        title=pull.title,
                        body=pull.body,
                        head_sha=pull.head_sha,
                        head_ref=pull.head_ref,
                        base_ref=pull.base_ref,
                        base_sha=pull.base_sha,
                    ),
                    {},
                )
            if template.endswith("/files"):
                items, headers = self._page([obj.diff_entry(f) for f in pull.files[:3000]], query, path)
                return 200, items, headers
            if template.endswith("/reviews/{review_id}"):
                review_id = int(params["review_id"])
                found = [r for r in repo.reviews.get(number, []) if r["id"] == review_id]
                if not found:
                    return not_found
                if method == "PUT":
                    found[0]["body"] = data["body"]
                return 200, found[0], {}
            if template.endswith("/reviews") and method == "GET":
                items, headers = self._page(repo.reviews.get(number, []), query, path)
                return 200, items, headers
            if template.endswith("/reviews"):
                return self._create_review(repo, pull, data)
            if template.endswith("/comments"):
                items, headers = self._page(repo.review_comments.get(number, []), query, path)
                return 200, items, headers
        if template == "/repos/{owner}/{repo}/contents/{path}":
            ref = query.get("ref", "main")
            text = repo.contents.get((ref, params["path"]))
            return (200, obj.content_file(params["path"], text), {}) if text is not None else not_found
        if template == "/repos/{owner}/{repo}/check-runs":
            run = {
                **data,
                "id": next(self.ids),
                "annotations": list((data.get("output") or {}).get("annotations", [])),
            }
            self._check_annotations(run["annotations"])
            run.setdefault("status", "queued")
            if data.get("conclusion"):
                run["status"] = "completed"
            repo.check_runs[run["id"]] = run
            return 201, obj.check_run(run), {}
        if template == "/repos/{owner}/{repo}/check-runs/{check_run_id}":
            run = repo.check_runs.get(int(params["check_run_id"]))
            if run is None:
                return not_found
            new = list((data.get("output") or {}).get("annotations", []))
            self._check_annotations(new)
            run["annotations"].extend(new)
            run.update({k: v for k, v in data.items() if k != "output"})
            if data.get("output"):
                run["output"] = {k: v for k, v in data["output"].items() if k != "annotations"}
            if data.get("conclusion"):
                run["status"] = "completed"
            run.setdefault("updates", 0)
            run["updates"] += 1
            return 200, obj.check_run(run), {}
        if template == "/repos/{owner}/{repo}/issues/{issue_number}/comments":
            number = int(params["issue_number"])
            if method == "GET":
                items, headers = self._page(repo.issue_comments.get(number, []), query, path)
                return 200, items, headers
            comment = obj.issue_comment(next(self.ids), name, number, data["body"], obj.bot_user())
            repo.issue_comments.setdefault(number, []).append(comment)
            return 201, comment, {}
        if template == "/repos/{owner}/{repo}/issues/comments/{comment_id}":
            for comments in repo.issue_comments.values():
                for comment in comments:
                    if comment["id"] == int(params["comment_id"]):
                        comment["body"] = data["body"]
                        comment["updated_at"] = obj.now_iso()
                        return 200, comment, {}
            return not_found
        if template == "/repos/{owner}/{repo}/pulls/comments/{comment_id}":
            wanted = int(params["comment_id"])
            found = [c for cs in repo.review_comments.values() for c in cs if c["id"] == wanted]
            return (200, found[0], {}) if found else not_found
        if template == "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions":
            repo.reactions.append((int(params["comment_id"]), data["content"]))
            return 201, obj.reaction(next(self.ids), data["content"]), {}
        if template == "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions":
            repo.reactions.append((int(params["comment_id"]), data["content"]))
            return 201, obj.reaction(next(self.ids), data["content"]), {}
        self.violations.append(f"{method} {template}: the fake does not implement this operation")
        return not_found

    def _check_annotations(self, annotations: list[Any]) -> None:
        if len(annotations) > 50:
            self.violations.append(f"check run update with {len(annotations)} annotations (GitHub's cap: 50)")

    def _create_review(
        self, repo: FakeRepo, pull: FakePull, data: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        files = {f["filename"]: f for f in pull.files}
        for c in data.get("comments", []):
            problem = comment_problem(c, files)
            if problem:
                self.violations.append(f"review comment rejected (GitHub answers 422): {problem}")
                return (
                    422,
                    {
                        "message": "Unprocessable Entity",
                        "errors": [problem],
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    {},
                )
        if data.get("commit_id") and data["commit_id"] != pull.head_sha:
            self.violations.append(f"review on commit {data['commit_id']} that is not the PR head")
        review_id = next(self.ids)
        state = "COMMENTED" if data.get("event") == "COMMENT" else "PENDING"
        item = obj.review(
            review_id,
            repo.full_name,
            pull.number,
            body=data.get("body", ""),
            commit_id=data.get("commit_id") or pull.head_sha,
            state=state,
        )
        repo.reviews.setdefault(pull.number, []).append(item)
        for c in data.get("comments", []):
            repo.review_comments.setdefault(pull.number, []).append(
                obj.review_comment(next(self.ids), review_id, item["commit_id"], c)
            )
        return 200, item, {}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            split = urlsplit(self.path)
            page = fake_github_app.web(fake, self.command, split.path, split.query, body)
            if page is not None:  # github.com's manifest form, not the REST API
                raw_page = page[1].encode()
                self.send_response(page[0])
                for k, v in {"Content-Type": "text/plain", **page[2]}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw_page)))
                self.end_headers()
                self.wfile.write(raw_page)
                return
            if fake.latency > 0:
                time.sleep(fake.latency)
            try:
                status, payload, extra = fake.handle(self.command, self.path, headers, body)
            except Exception as exc:  # a bug in the fake must fail the test, not hang it
                fake.violations.append(f"fake GitHub crashed on {self.command} {self.path}: {exc!r}")
                status, payload, extra = 500, {"message": "fake crashed"}, {}
            raw = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            lower = {k.lower() for k in extra}
            if "x-ratelimit-remaining" not in lower:
                self.send_header("x-ratelimit-limit", "5000")
                self.send_header("x-ratelimit-remaining", str(max(0, 5000 - len(fake.calls))))
                self.send_header("x-ratelimit-reset", str(int(datetime.now(UTC).timestamp()) + 3600))
                self.send_header("x-ratelimit-resource", "core")
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
