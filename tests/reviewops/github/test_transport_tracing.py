"""One CLIENT span per GitHub HTTP request, named by its OpenAPI path template; never the token or the URL."""

from __future__ import annotations

from typing import Any

import pytest

from reviewops.errors import TransientError
from reviewops.github.client import GitHubApp
from reviewops.github.transport import NotFound
from tests.support.fake_github import FakeGitHub

REPO = "octo/demo"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
TOKENS = "/app/installations/{installation_id}/access_tokens"


def http_spans(spans: Any) -> list[Any]:
    return sorted((s for s in spans.get_finished_spans() if "url.template" in s.attributes),
                  key=lambda s: s.start_time)  # fmt: skip


def test_request_spans(fake_github: FakeGitHub, github_app_key: tuple[str, str], spans: Any) -> None:
    app = GitHubApp(fake_github.app_id, github_app_key[0], api_url=fake_github.url)
    app.transport.sleep = lambda _s: None
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    client = app.installation(77)
    client.get_pull(REPO, 1)
    with pytest.raises(NotFound):
        client.get_pull(REPO, 404)
    fake_github.fail_next(502, template=PULL)
    with pytest.raises(TransientError):
        client.get_pull(REPO, 1)
    app.close()

    token, ok, missing, bad_gateway = http_spans(spans)
    # The token exchange is not nested in the request that needed it: it is its own request.
    assert token.name == f"POST {TOKENS}" and token.parent is None
    assert ok.name == f"GET {PULL}" and ok.kind.name == "CLIENT"
    assert ok.attributes["http.request.method"] == "GET" and ok.attributes["url.template"] == PULL
    assert ok.attributes["http.response.status_code"] == 200 and ok.status.status_code.name == "UNSET"
    assert (
        missing.attributes["http.response.status_code"] == 404 and missing.status.status_code.name == "ERROR"
    )
    assert bad_gateway.attributes["http.response.status_code"] == 502
    assert bad_gateway.attributes["error.type"] == "502"
    tokens = list(fake_github.tokens)
    for span in (token, ok, missing, bad_gateway):
        text = " ".join(f"{k}={v}" for k, v in span.attributes.items())
        assert REPO not in text and not any(t in text for t in tokens)


def test_unreachable_github_is_an_error_span(github_app_key: tuple[str, str], spans: Any) -> None:
    app = GitHubApp(1, github_app_key[0], api_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientError):
        app.installation(1).get_pull(REPO, 1)
    (span,) = http_spans(spans)  # the token request fails first; nothing else is attempted
    assert span.status.status_code.name == "ERROR" and span.attributes["error.type"] == "ConnectError"
    assert "http.response.status_code" not in span.attributes
