"""One GitHub request: headers, rate limits, the content-creation cap, error mapping and metrics.

Every call names its OpenAPI path template (e.g. /repos/{owner}/{repo}/pulls/{pull_number}); that is the
metric label, so labels stay bounded whatever the concrete URL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from gidgethub import sansio
from opentelemetry.trace import SpanKind, Status, StatusCode

from reviewops.errors import PermanentError, TransientError
from reviewops.github.ratelimit import CONTENT_METHODS, ContentLimiter, is_rate_limited, retry_delay
from reviewops.telemetry import metrics
from reviewops.telemetry.tracing import tracer

log = logging.getLogger(__name__)

USER_AGENT = "reviewops"
API_VERSION = "2022-11-28"
MAX_INLINE_ATTEMPTS = 4  # rate-limit refusals of one request before it goes back to the queue
# POSTs that create no content on GitHub (not part of the secondary content-creation limit).
UNCAPPED = frozenset(
    {"/app/installations/{installation_id}/access_tokens", "/app-manifests/{code}/conversions"}
)


class GitHubError(PermanentError):
    """GitHub refused the request for good (4xx other than rate limits)."""

    def __init__(self, message: str, *, status: int, endpoint: str) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class NotFound(GitHubError):
    """404: the PR, repository or file is gone (or the App lost access to it)."""


class Unauthorized(GitHubError):
    """401: the token was rejected."""


class ValidationFailed(GitHubError):
    """422: GitHub rejected the body (e.g. a review comment outside the diff)."""


class InstallationSuspended(GitHubError):
    """403 'suspended': the installation is suspended; nothing will work until it is unsuspended."""


@dataclass
class Auth:
    """How a request authenticates: an installation token (`token`) or the app JWT (`jwt`)."""

    kind: str  # "token" | "jwt" | "none" (the manifest conversion: the code is the credential)
    value: Callable[[], str]
    limiter_key: int  # installation id, 0 for app-level requests


@dataclass
class RateLimitTracker:
    """Last `x-ratelimit-remaining` per (resource, installation), exported as min per resource bucket."""

    _remaining: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, headers: Mapping[str, str], key: int) -> None:
        rate = sansio.RateLimit.from_http(headers)
        if rate is None:
            return
        resource = headers.get("x-ratelimit-resource", "core")
        bucket = resource if resource in metrics.GITHUB_RATELIMIT_RESOURCES else "other"
        with self._lock:
            self._remaining[(bucket, key)] = rate.remaining
            lowest = min(v for (b, _), v in self._remaining.items() if b == bucket)
        metrics.GITHUB_RATELIMIT_REMAINING.labels(bucket).set(lowest)


def expand(template: str, params: Mapping[str, str | int]) -> str:
    """Fill an OpenAPI path template; `path` (repository contents) keeps its slashes."""
    out = template
    for name, value in params.items():
        safe = "/" if name == "path" else ""
        out = out.replace("{" + name + "}", quote(str(value), safe=safe))
    return out


class Transport:
    """Sends requests; thread-safe (httpx.Client is), shared by all workers threads of a process."""

    def __init__(
        self,
        base_url: str,
        *,
        limiter: ContentLimiter,
        max_inline_wait: float,
        max_write_wait: float = 0.0,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout)
        self.limiter = limiter
        self.max_inline_wait = max_inline_wait
        self.max_write_wait = max_write_wait
        self.sleep = sleep
        self.ratelimits = RateLimitTracker()
        self._consecutive: dict[int, int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def _headers(self, auth: Auth) -> dict[str, str]:
        credential = auth.value()
        headers = sansio.create_headers(
            USER_AGENT,
            accept="application/vnd.github+json",
            oauth_token=credential if auth.kind == "token" else None,
            jwt=credential if auth.kind == "jwt" else None,
        )
        headers["x-github-api-version"] = API_VERSION
        return headers

    def _wait_or_raise(self, seconds: float, why: str, waited: float, budget: float) -> float:
        """Short waits happen here; long ones go back to the queue so a worker thread is not parked.

        Returns the total waited so far for this request (pacing may take several waits in a row)."""
        if waited + seconds > budget:
            raise TransientError(f"GitHub {why}: retry in {seconds:.0f}s", retry_after=seconds)
        self.sleep(seconds)
        return waited + seconds

    def request(
        self,
        method: str,
        template: str,
        auth: Auth,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        url: str | None = None,
    ) -> httpx.Response:
        """One logical request: paced per installation, retried inline only while the waits are short.
        `url` overrides the expanded template, for following pagination links.

        Content-creating requests may wait up to `max_write_wait` for their slot (the review's work is
        done by then: waiting is cheaper than doing it again); everything else up to `max_inline_wait`."""
        method = method.upper()
        target = url or self.base_url + expand(template, path_params or {})
        content = method in CONTENT_METHODS and template not in UNCAPPED
        budget = max(self.max_write_wait, self.max_inline_wait) if content else self.max_inline_wait
        waited, refusals = 0.0, 0
        while True:
            # A pause after a refusal (all workers see it) holds every request; the caps only writes.
            wait = self.limiter.reserve(auth.limiter_key, content)
            if wait > 0:
                metrics.GITHUB_PACED_SECONDS.labels("write" if content else "read").inc(wait)
                waited = self._wait_or_raise(wait, "pacing (per-installation limits)", waited, budget)
                continue
            response = self._send(method, target, template, auth, params=params, json=json)
            metrics.GITHUB_REQUESTS.labels(template, str(response.status_code)).inc()
            headers = {k.lower(): v for k, v in response.headers.items()}
            self.ratelimits.observe(headers, auth.limiter_key)
            if response.status_code < 400:
                with self._lock:
                    self._consecutive.pop(auth.limiter_key, None)
                self._pause_if_spent(headers, auth.limiter_key)
                return response
            message = _message(response)
            if not is_rate_limited(response.status_code, headers, message):
                raise _mapped_error(response.status_code, message, template)
            with self._lock:
                count = self._consecutive.get(auth.limiter_key, 0)
                self._consecutive[auth.limiter_key] = count + 1
            delay = retry_delay(headers, count)
            self.limiter.pause(auth.limiter_key, delay)  # every worker of this installation waits too
            refusals += 1
            if refusals >= MAX_INLINE_ATTEMPTS:
                raise TransientError(
                    f"GitHub still rate limiting {template} after {refusals} attempts", retry_after=delay
                )
            waited = self._wait_or_raise(delay, f"rate limit on {template}", waited, budget)

    def _pause_if_spent(self, headers: Mapping[str, str], key: int) -> None:
        """The primary limit, before GitHub refuses: the last request spent it, so hold the rest."""
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            self.limiter.pause(key, retry_delay(headers, 0))

    def _send(
        self, method: str, target: str, template: str, auth: Auth, *, params: Any, json: Any
    ) -> httpx.Response:
        """One HTTP request as one CLIENT span named by its path template (the token never goes in it)."""
        headers = self._headers(auth)  # may fetch an installation token: its own span, not a child
        attributes = {"http.request.method": method, "url.template": template,
                      "server.address": httpx.URL(target).host}  # fmt: skip
        with tracer().start_as_current_span(
            f"{method} {template}", kind=SpanKind.CLIENT, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            try:
                response = self.http.request(method, target, headers=headers, params=params, json=json)
            except httpx.TransportError as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                metrics.GITHUB_REQUESTS.labels(template, "error").inc()
                raise TransientError(f"GitHub unreachable ({type(exc).__name__}) on {template}") from exc
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                span.set_attribute("error.type", str(response.status_code))
                span.set_status(Status(StatusCode.ERROR))
            return response

    def paginate(
        self,
        template: str,
        auth: Auth,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, str | int] | None = None,
        max_items: int | None = None,
    ) -> Iterator[Any]:
        """Items of a list endpoint, following `Link: rel="next"` (page or cursor based)."""
        url: str | None = None
        query: Mapping[str, str | int] | None = {"per_page": 100, **(params or {})}
        count = 0
        while True:
            response = self.request("GET", template, auth, path_params=path_params, params=query, url=url)
            for item in response.json():
                yield item
                count += 1
                if max_items is not None and count >= max_items:
                    return
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return
            url, query = nxt, None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        msg = str(body.get("message", ""))
        errors = body.get("errors")
        return f"{msg} {errors}" if errors else msg
    return ""


def _mapped_error(status: int, message: str, template: str) -> Exception:
    text = f"GitHub {status} on {template}: {message}"[:1000]
    if status >= 500:
        return TransientError(text)
    if status == 401:
        return Unauthorized(text, status=status, endpoint=template)
    if status == 403 and "suspended" in message.lower():
        return InstallationSuspended(text, status=status, endpoint=template)
    if status in (404, 410):
        return NotFound(text, status=status, endpoint=template)
    if status == 422:
        return ValidationFailed(text, status=status, endpoint=template)
    return GitHubError(text, status=status, endpoint=template)
