"""The GitHub App client against the fake GitHub (a real HTTP server validating GitHub's OpenAPI contract)."""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import pytest
import redis
from prometheus_client import REGISTRY

from reviewops.errors import PermanentError, TransientError
from reviewops.github.auth import InstallationToken, TokenCache, app_jwt
from reviewops.github.client import GitHubApp
from reviewops.github.ratelimit import ContentLimiter
from reviewops.github.transport import GitHubError, InstallationSuspended, NotFound
from tests.support.fake_github import FakeGitHub

REPO = "octo/demo"
INSTALLATION = 77


def make_app(fake: FakeGitHub, key: str, *, sleeps: list[float] | None = None, **kw: Any) -> GitHubApp:
    """An app whose waits are recorded, not slept: a fake clock that the fake sleep moves on, so the
    pacer (which reads the clock) sees the wait as over."""
    app = GitHubApp(fake.app_id, key, api_url=fake.url, **kw)
    clock = [time.time()]
    recorded = sleeps if sleeps is not None else []

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        clock[0] += seconds

    app.transport.sleep = sleep
    app.transport.limiter.clock = lambda: clock[0]
    return app


@pytest.fixture
def gh(fake_github: FakeGitHub, github_app_key: tuple[str, str]) -> Any:
    app = make_app(fake_github, github_app_key[0])
    fake_github.add_pull(
        REPO, 1, head_sha="a" * 40, files=[{"filename": "x.py", "patch": "@@ -0,0 +1 @@\n+x"}]
    )
    yield app
    app.close()


def test_app_jwt_has_githubs_claims(github_app_key: tuple[str, str]) -> None:
    token = app_jwt(4242, github_app_key[0])
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, github_app_key[1], algorithms=["RS256"])
    now = time.time()
    assert claims["iss"] == "4242"
    assert claims["iat"] <= now - 59  # backdated for clock drift
    assert claims["exp"] <= now + 600  # GitHub rejects more than 10 minutes ahead
    assert claims["exp"] > now


def test_token_cache_fetches_once_and_refreshes_before_expiry() -> None:
    clock = [1000.0]
    fetched: list[int] = []

    def fetch(installation_id: int) -> InstallationToken:
        fetched.append(installation_id)
        return InstallationToken(f"t{len(fetched)}", expires_at=clock[0] + 3600)

    cache = TokenCache(fetch, clock=lambda: clock[0])
    assert cache.get(1) == "t1"
    assert cache.get(1) == "t1"
    assert cache.get(2) == "t2"
    clock[0] += 3600 - 400  # still more than the 5-minute margin left
    assert cache.get(1) == "t1"
    clock[0] += 200  # inside the margin: refreshed before GitHub's expiry
    assert cache.get(1) == "t3"
    assert fetched == [1, 2, 1]
    cache.invalidate(1)
    assert cache.get(1) == "t4"


def test_token_cache_is_thread_safe() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def fetch(installation_id: int) -> InstallationToken:
        calls.append(installation_id)
        gate.wait(2)
        return InstallationToken("tok", expires_at=time.time() + 3600)

    cache = TokenCache(fetch)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(5))) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert results == ["tok"] * 8
    assert calls == [5]


def test_installation_token_is_fetched_once_and_used(gh: GitHubApp, fake_github: FakeGitHub) -> None:
    client = gh.installation(INSTALLATION)
    assert client.get_pull(REPO, 1)["head"]["sha"] == "a" * 40
    assert client.get_pull(REPO, 1)["number"] == 1
    assert len(fake_github.calls_to("/app/installations/{installation_id}/access_tokens")) == 1
    pulls = fake_github.calls_to("/repos/{owner}/{repo}/pulls/{pull_number}")
    assert all(c.auth.startswith("token ghs_") for c in pulls)
    assert "token ghs_" not in repr(gh.tokens._tokens)


def test_retry_after_is_honoured_inline_when_short(fake_github: FakeGitHub, github_app_key: Any) -> None:
    sleeps: list[float] = []
    app = make_app(fake_github, github_app_key[0], sleeps=sleeps, max_inline_wait=10)
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    fake_github.fail_next(
        403,
        headers={"Retry-After": "3"},
        message="secondary rate limit",
        template="/repos/{owner}/{repo}/pulls/{pull_number}",
    )
    assert app.installation(INSTALLATION).get_pull(REPO, 1)["number"] == 1
    assert sleeps == [3.0]


def test_long_retry_after_goes_back_to_the_queue(fake_github: FakeGitHub, github_app_key: Any) -> None:
    app = make_app(fake_github, github_app_key[0], max_inline_wait=10)
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    fake_github.fail_next(
        429, headers={"Retry-After": "120"}, template="/repos/{owner}/{repo}/pulls/{pull_number}"
    )
    with pytest.raises(TransientError) as info:
        app.installation(INSTALLATION).get_pull(REPO, 1)
    assert info.value.retry_after == 120


def test_primary_limit_waits_until_reset(fake_github: FakeGitHub, github_app_key: Any) -> None:
    app = make_app(fake_github, github_app_key[0], max_inline_wait=10)
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    reset = int(time.time()) + 600
    fake_github.fail_next(
        403,
        message="API rate limit exceeded",
        template="/repos/{owner}/{repo}/pulls/{pull_number}",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "x-ratelimit-limit": "5000"},
    )
    with pytest.raises(TransientError) as info:
        app.installation(INSTALLATION).get_pull(REPO, 1)
    assert info.value.retry_after is not None
    assert reset - time.time() < info.value.retry_after <= reset - time.time() + 2


def test_secondary_limit_without_headers_backs_off_exponentially(
    fake_github: FakeGitHub, github_app_key: Any
) -> None:
    app = make_app(fake_github, github_app_key[0], max_inline_wait=10)
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    client = app.installation(INSTALLATION)
    waits = []
    for _ in range(3):
        fake_github.fail_next(429, template="/repos/{owner}/{repo}/pulls/{pull_number}")
        with pytest.raises(TransientError) as info:
            client.get_pull(REPO, 1)
        waits.append(info.value.retry_after)
        sent = len(fake_github.calls)
        with pytest.raises(TransientError):  # paused: the next request waits without asking GitHub
            client.get_pull(REPO, 1)
        assert len(fake_github.calls) == sent
        app.transport.sleep(info.value.retry_after or 0)  # the fake clock moves past the pause
    assert waits == [60, 120, 240]
    assert client.get_pull(REPO, 1)["number"] == 1  # success resets the backoff
    fake_github.fail_next(
        403,
        message="You have exceeded a secondary rate limit",
        template="/repos/{owner}/{repo}/pulls/{pull_number}",
    )
    with pytest.raises(TransientError) as info:
        client.get_pull(REPO, 1)
    assert info.value.retry_after == 60


@pytest.mark.parametrize("use_redis", [False, True])
def test_content_limiter_caps_80_per_minute(use_redis: bool, redis_client: redis.Redis) -> None:
    clock = [5000.0]
    limiter = ContentLimiter(80, redis_client if use_redis else None, clock=lambda: clock[0])
    assert all(limiter.reserve(1) == 0 for _ in range(80))
    wait = limiter.reserve(1)
    assert 59 < wait <= 60
    assert limiter.reserve(2) == 0  # per installation
    clock[0] += 30
    assert limiter.reserve(1) > 0
    clock[0] += 30.5
    assert limiter.reserve(1) == 0


@pytest.mark.parametrize("use_redis", [False, True])
def test_pacer_caps_the_hour_and_shares_a_pause(use_redis: bool, redis_client: redis.Redis) -> None:
    clock = [10_000.0]
    client = redis_client if use_redis else None
    pacer = ContentLimiter(80, client, clock=lambda: clock[0], per_hour=500)
    times: list[float] = []
    while len(times) < 500:  # writes as fast as the pacer lets them through
        wait = pacer.reserve(1)
        if wait:
            clock[0] += wait
        else:
            times.append(clock[0])
    assert max(sum(1 for t in times if start <= t < start + 60) for start in times) == 80
    wait = pacer.reserve(1)  # the hour is full: wait until the first write is an hour old
    assert 3600 - (clock[0] - times[0]) - 0.01 < wait <= 3600 - (clock[0] - times[0]) + 0.01
    assert pacer.reserve(1, content=False) == 0  # reads are not capped
    pacer.pause(2, 30)
    assert 29.9 < pacer.reserve(2, content=False) <= 30 and pacer.reserve(1, content=False) == 0
    pacer.pause(2, 5)  # a shorter pause never shortens a longer one
    assert pacer.reserve(2) > 29
    if use_redis:  # another worker process sees the same pause
        other = ContentLimiter(80, client, clock=lambda: clock[0], per_hour=500)
        assert 29.9 < other.reserve(2, content=False) <= 30
    clock[0] += 30
    assert pacer.reserve(2) == 0


def test_client_never_exceeds_the_content_cap(fake_github: FakeGitHub, github_app_key: Any) -> None:
    app = make_app(fake_github, github_app_key[0], max_inline_wait=0, content_requests_per_minute=3)
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    client = app.installation(INSTALLATION)
    for i in range(3):
        client.create_issue_comment(REPO, 1, f"comment {i}")
    with pytest.raises(TransientError) as info:
        client.create_issue_comment(REPO, 1, "one too many")
    assert info.value.retry_after is not None and info.value.retry_after > 50
    assert len(fake_github.calls_to("/repos/{owner}/{repo}/issues/{issue_number}/comments", "POST")) == 3
    assert client.list_issue_comments(REPO, 1)[0]["body"] == "comment 0"  # reads are not capped


def test_errors_are_mapped(fake_github: FakeGitHub, github_app_key: Any) -> None:
    app = make_app(fake_github, github_app_key[0])
    fake_github.add_pull(REPO, 1, head_sha="a" * 40, files=[])
    client = app.installation(INSTALLATION)
    with pytest.raises(NotFound) as nf:
        client.get_pull(REPO, 99)
    assert isinstance(nf.value, PermanentError) and nf.value.status == 404
    with pytest.raises(NotFound):
        client.get_pull("octo/gone", 1)
    fake_github.fail_next(502, template="/repos/{owner}/{repo}/pulls/{pull_number}")
    with pytest.raises(TransientError):
        client.get_pull(REPO, 1)
    fake_github.fail_next(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError) as forbidden:
        client.get_pull(REPO, 1)
    assert not isinstance(forbidden.value, TransientError)
    fake_github.suspended.add(INSTALLATION + 1)
    with pytest.raises(InstallationSuspended):
        app.installation(INSTALLATION + 1).get_pull(REPO, 1)


def test_network_errors_are_transient(github_app_key: Any) -> None:
    app = GitHubApp(1, github_app_key[0], api_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientError):
        app.installation(1).get_pull(REPO, 1)


def test_metrics_use_endpoint_templates(gh: GitHubApp) -> None:
    gh.installation(INSTALLATION).get_pull(REPO, 1)
    value = REGISTRY.get_sample_value(
        "reviewops_github_requests_total",
        {"endpoint": "/repos/{owner}/{repo}/pulls/{pull_number}", "status": "200"},
    )
    assert value is not None and value >= 1
    for metric in REGISTRY.collect():
        if metric.name.startswith("reviewops_github"):
            for sample in metric.samples:
                assert REPO not in str(sample.labels) and str(INSTALLATION) not in str(sample.labels)
    remaining = REGISTRY.get_sample_value("reviewops_github_ratelimit_remaining", {"bucket": "core"})
    assert remaining is not None and 0 < remaining <= 5000


def test_pull_files_are_paginated_up_to_3000(fake_github: FakeGitHub, gh: GitHubApp) -> None:
    files = [{"filename": f"f{i}.txt", "patch": "@@ -0,0 +1 @@\n+x", "additions": 1} for i in range(3100)]
    fake_github.add_pull(REPO, 2, head_sha="c" * 40, files=files)
    got = gh.installation(INSTALLATION).list_pull_files(REPO, 2)
    assert [f["filename"] for f in got] == [f"f{i}.txt" for i in range(3000)]
    assert len(fake_github.calls_to("/repos/{owner}/{repo}/pulls/{pull_number}/files")) == 30


def test_file_contents_come_from_the_given_ref(fake_github: FakeGitHub, gh: GitHubApp) -> None:
    fake_github.set_file(REPO, ".reviewops.yaml", "max_comments: 5\n", ref="main")
    fake_github.set_file(REPO, ".reviewops.yaml", "max_comments: 500\n", ref="feature")
    client = gh.installation(INSTALLATION)
    assert client.get_file_text(REPO, ".reviewops.yaml", "main") == "max_comments: 5\n"
    assert client.get_file_text(REPO, "nope.yaml", "main") is None


def test_hook_deliveries_cursor_pagination_and_redelivery(fake_github: FakeGitHub, gh: GitHubApp) -> None:
    for i in range(250):
        fake_github.add_delivery(event="pull_request", action="opened", status_code=200 if i % 2 else 500)
    listed = list(gh.list_hook_deliveries())
    assert len(listed) == 250 and listed[0]["id"] == fake_github.deliveries[0]["id"]
    calls = fake_github.calls_to("/app/hook/deliveries")
    assert len(calls) == 3 and calls[1].query["cursor"] == "100"
    assert all(c.auth.startswith("bearer ") for c in calls)
    gh.redeliver(listed[0]["id"])
    assert fake_github.redelivered == [listed[0]["id"]]


def test_review_comments_and_annotations_batches(fake_github: FakeGitHub, gh: GitHubApp) -> None:
    patch = "@@ -1,2 +1,3 @@\n ctx\n+added\n ctx2"
    fake_github.add_pull(REPO, 3, head_sha="d" * 40, files=[{"filename": "m.py", "patch": patch}])
    client = gh.installation(INSTALLATION)
    review = client.create_review(
        REPO,
        3,
        commit_id="d" * 40,
        body="r",
        comments=[
            {"path": "m.py", "line": 2, "side": "RIGHT", "body": "inline"},
            {
                "path": "m.py",
                "start_line": 1,
                "line": 2,
                "side": "RIGHT",
                "start_side": "RIGHT",
                "body": "range",
            },
        ],
    )
    assert review["state"] == "COMMENTED"
    assert [c["line"] for c in client.list_review_comments(REPO, 3)] == [2, 2]
    assert client.list_reviews(REPO, 3)[0]["id"] == review["id"]
    run = client.create_check_run(REPO, name="ReviewOps", head_sha="d" * 40, status="in_progress")
    annotations = [
        {"path": "m.py", "start_line": 2, "end_line": 2, "annotation_level": "warning", "message": f"n{i}"}
        for i in range(120)
    ]
    assert client.add_annotations(REPO, run["id"], {"title": "t", "summary": "s"}, annotations) == 3
    done = client.update_check_run(
        REPO, run["id"], status="completed", conclusion="success", output={"title": "t", "summary": "s"}
    )
    assert done["conclusion"] == "success" and done["output"]["annotations_count"] == 120
    comment = client.create_issue_comment(REPO, 3, "<!-- reviewops:summary -->\nhello")
    assert client.find_issue_comment(REPO, 3, "<!-- reviewops:summary -->")["id"] == comment["id"]  # type: ignore[index]
    client.add_reaction(REPO, comment["id"], "eyes")
    assert fake_github.repos[REPO].reactions == [(comment["id"], "eyes")]


def test_the_fake_rejects_off_contract_requests(github_app_key: tuple[str, str]) -> None:
    """The fake must be able to fail a test: a comment outside the diff, a bad body, an unknown path."""
    fake = FakeGitHub(app_id=4242, public_key_pem=github_app_key[1])
    try:
        app = make_app(fake, github_app_key[0])
        fake.add_pull(
            REPO, 1, head_sha="a" * 40, files=[{"filename": "x.py", "patch": "@@ -1 +1,2 @@\n a\n+b"}]
        )
        client = app.installation(INSTALLATION)
        with pytest.raises(PermanentError):
            client.create_review(
                REPO,
                1,
                commit_id="a" * 40,
                body="r",
                comments=[{"path": "x.py", "line": 9, "side": "RIGHT", "body": "far"}],
            )
        assert any("not in the diff" in v for v in fake.violations)
        fake.violations.clear()
        with pytest.raises(PermanentError):
            client.create_check_run(REPO, name="ReviewOps", status="bogus")  # no head_sha, bad enum
        assert any("request invalid" in v for v in fake.violations)
        fake.violations.clear()
        with pytest.raises(NotFound):
            app.transport.request(
                "GET", "/repos/{owner}/{repo}/nonsense", client.auth, path_params={"owner": "o", "repo": "r"}
            )
        assert any("no such operation" in v for v in fake.violations)
    finally:
        fake.close()


def test_a_rejected_token_is_replaced_once(gh: GitHubApp, fake_github: FakeGitHub) -> None:
    client = gh.installation(INSTALLATION)
    client.get_pull(REPO, 1)
    fake_github.revoke_tokens()
    assert client.get_pull(REPO, 1)["number"] == 1
    assert len(fake_github.calls_to("/app/installations/{installation_id}/access_tokens")) == 2
    statuses = [c.status for c in fake_github.calls_to("/repos/{owner}/{repo}/pulls/{pull_number}")]
    assert statuses == [200, 401, 200]


def test_hook_deliveries_can_be_filtered_by_outcome(fake_github: FakeGitHub, gh: GitHubApp) -> None:
    for i in range(150):
        fake_github.add_delivery(event="ping", status_code=502 if i % 3 == 0 else 200)
    failed = list(gh.list_hook_deliveries(status="failure"))
    assert len(failed) == 50 and all(d["status_code"] == 502 for d in failed)
    assert len(list(gh.list_hook_deliveries(status="success", per_page=40))) == 100
    with pytest.raises(ValueError, match="status"):
        gh.list_hook_deliveries(status="bad")
