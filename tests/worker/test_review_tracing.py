"""One delivery, one trace, logs that name it: signed webhook -> API -> Redis -> real dramatiq worker -> real
review engine (mock LLM) -> fake GitHub, checked through the SDK's in-memory exporter and the JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from reviewops.db.session import Database
from reviewops.settings import Settings
from reviewops.telemetry.logging import configure_logging
from tests.support.deliveries import post_until_processed, pr_payload
from tests.support.fake_github import FakeGitHub
from tests.support.waiting import wait_until

REPO = "octo/traced"
INSTALLATION = 91
HEAD = "3" * 40
TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
FILES = "/repos/{owner}/{repo}/pulls/{pull_number}/files"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
TOKENS = "/app/installations/{installation_id}/access_tokens"
LINES = ["import os", 'print("debug")', "# TODO tidy", "def f(x):", "    return x"]


@pytest.fixture
def llm_settings(github_settings: Settings) -> Settings:
    return github_settings.model_copy(update={"mock_llm": True})


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every log line of the process as JSON, at DEBUG (the most there is to leak), restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("DEBUG", json_output=True, stream=stream)
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


@pytest.fixture
def real_engine_worker(
    broker: dramatiq.Broker, llm_settings: Settings, db: Database, fake_github: FakeGitHub
) -> Iterator[dramatiq.Worker]:
    from worker.main import start_worker

    w = start_worker(broker, llm_settings, db, threads=2)  # no review_deps: the real engine
    yield w
    w.stop(timeout=10000)


@pytest.fixture
def api(llm_settings: Settings, db: Database, broker: dramatiq.Broker) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(llm_settings, db=db, broker=broker)) as c:
        yield c


def deliver_traced(client: Any, db: Database, fake: FakeGitHub) -> str:
    """Deliver `opened` for PR 5 with a caller-chosen W3C trace id; wait until the worker is done."""
    patch = f"@@ -0,0 +1,{len(LINES)} @@\n" + "\n".join("+" + line for line in LINES)
    fake.add_pull(REPO, 5, head_sha=HEAD, files=[
        {"filename": "app.py", "status": "added", "patch": patch, "additions": len(LINES)},
    ])  # fmt: skip
    fake.set_file(REPO, ".reviewops.yaml", "severity_threshold: info\n", ref="main")
    traceparent = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    payload = pr_payload(REPO, INSTALLATION, "opened", 5, HEAD)
    return post_until_processed(client, db, "pull_request", payload, extra_headers=traceparent)


def trace_spans(exporter: Any) -> list[Any]:
    """The finished spans of our trace, once the consumer span (the last to end) is among them."""

    def done() -> list[Any]:
        found = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID]
        return found if any(s.name == "process process_delivery" for s in found) else []

    return wait_until(done, what="the worker's spans")  # type: ignore[no-any-return]


def only(spans: list[Any], name: str) -> Any:
    matching = [s for s in spans if s.name == name]
    assert len(matching) == 1, f"{name}: {len(matching)} spans in {sorted(s.name for s in spans)}"
    return matching[0]


def children(spans: list[Any], parent: Any) -> list[Any]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def under(spans: list[Any], ancestor: Any, span: Any) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    current = span
    while current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
        if current is None:
            return False
    return False


def test_whole_tree_for_one_delivery(
    api: Any, db: Database, fake_github: FakeGitHub, real_engine_worker: Any, spans: Any
) -> None:
    deliver_traced(api, db, fake_github)
    tree = trace_spans(spans)
    ids = {s.context.span_id for s in tree}
    # Every span of the trace hangs off another span of the trace, except the server span, whose parent
    # is the caller's (remote) span from the traceparent header.
    server = only(tree, "POST /webhooks/github")
    assert server.parent.span_id == 0x00F067AA0BA902B7 and server.kind.name == "SERVER"
    assert all(s.parent is not None and s.parent.span_id in ids for s in tree if s is not server)

    enqueue = only(tree, "enqueue process_delivery")
    assert enqueue.parent.span_id == server.context.span_id and enqueue.kind.name == "PRODUCER"
    consume = only(tree, "process process_delivery")
    assert consume.parent.span_id == enqueue.context.span_id and consume.kind.name == "CONSUMER"
    route = only(tree, "route pull_request")
    assert route.parent.span_id == consume.context.span_id
    assert only(tree, "db.claim_delivery").parent.span_id == consume.context.span_id

    review = only(tree, "review")
    assert review.parent.span_id == route.context.span_id
    assert review.attributes["reviewops.review_status"] == "completed"
    stages = [s.name for s in sorted(children(tree, review), key=lambda s: s.start_time)]
    assert stages == ["db.claim_review", "github.fetch_pr", "review.engine", "github.post", "db.store_review"]
    assert only(tree, "db.finish_delivery").parent.span_id == route.context.span_id

    # Fetch: the PR, its files and the base branch's config, each one GitHub request span.
    fetch = only(tree, "github.fetch_pr")
    fetched = {s.name for s in children(tree, fetch)}
    assert {f"GET {PULL}", f"GET {FILES}", f"GET {CONTENTS}"} <= fetched
    assert fetch.attributes["reviewops.files"] == 1

    # Engine: one span per analyzer, the LLM-backed ones carrying their chat requests with token counts.
    engine = only(tree, "review.engine")
    analyzers = {s.name: s for s in children(tree, engine)}
    assert {"analyzer secrets", "analyzer llm", "analyzer qa-checklist"} <= set(analyzers)
    assert all(s.attributes["reviewops.analyzer"] == s.name.split(" ", 1)[1] for s in analyzers.values())
    chats = [s for s in tree if s.name == "llm.chat"]
    assert chats and all(under(tree, engine, c) for c in chats)
    assert any(c.parent.span_id == analyzers["analyzer qa-checklist"].context.span_id for c in chats)
    for chat in chats:
        assert chat.kind.name == "CLIENT" and chat.attributes["gen_ai.request.model"] == "mock"
        assert chat.attributes["gen_ai.usage.input_tokens"] > 0
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0

    # Posting: the check run and the review carrying the summary; all GitHub request spans under github.post.
    post = only(tree, "github.post")
    posted = {s.name for s in children(tree, post)}
    assert "POST /repos/{owner}/{repo}/check-runs" in posted
    assert "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews" in posted

    # Every GitHub request GitHub saw is one CLIENT span with its method, template and status, in the review.
    http = [s for s in tree if "url.template" in s.attributes]
    seen = Counter((s.attributes["http.request.method"], s.attributes["url.template"],
                    s.attributes["http.response.status_code"]) for s in http)  # fmt: skip
    assert seen == Counter((c.method, c.template, c.status) for c in fake_github.calls)
    for span in http:
        assert span.kind.name == "CLIENT"
        assert span.name == f"{span.attributes['http.request.method']} {span.attributes['url.template']}"
        assert under(tree, review, span)
        # A 404 (e.g. a file absent at the head) is an error for the client span, as OTel's HTTP rules say.
        failed = span.attributes["http.response.status_code"] >= 400
        assert (span.status.status_code.name == "ERROR") == failed
    # The token exchange is traced too, and no credential lands in any span attribute.
    assert any(s.attributes["url.template"] == TOKENS for s in http)
    tokens = list(fake_github.tokens)
    assert tokens
    for span in tree:
        text = json.dumps({k: str(v) for k, v in span.attributes.items()}) + span.name
        assert not any(token in text for token in tokens)
        assert "authorization" not in text.lower()


def test_every_worker_log_line_names_the_delivery_and_leaks_nothing(
    api: Any, db: Database, fake_github: FakeGitHub, real_engine_worker: Any, spans: Any,
    log_stream: io.StringIO, github_app_key: tuple[str, str],
) -> None:  # fmt: skip
    guid = deliver_traced(api, db, fake_github)
    tree = trace_spans(spans)
    consume = only(tree, "process process_delivery")
    worker_span_ids = {
        format(s.context.span_id, "016x") for s in tree if s is consume or under(tree, consume, s)
    }

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
    ours = [line for line in lines if line.get("trace_id") == TRACE_ID]
    worker_lines = [line for line in ours if line.get("span_id") in worker_span_ids]
    # The worker said something while reviewing (the review's completion at least), all of it attributable.
    assert any("completed" in str(line["event"]) for line in worker_lines), worker_lines
    for line in worker_lines:
        assert {"timestamp", "level", "event"} <= set(line), line
        assert line.get("delivery_guid") == guid, line
        assert line["tenant"] == INSTALLATION and line["repository"] == REPO and line["pr"] == 5, line
        assert len(line["span_id"]) == 16
    # The API's lines of the same request carry the delivery too (bound by the webhook router).
    assert any(
        line.get("delivery_guid") == guid and line.get("span_id") not in worker_span_ids for line in ours
    )

    # No credential anywhere in the output: installation tokens the fake issued, the App key, auth headers.
    text = log_stream.getvalue()
    tokens = list(fake_github.tokens)
    assert tokens and not any(token in text for token in tokens)
    private_key = github_app_key[0]
    key_body = "".join(private_key.strip().splitlines()[1:-1])
    assert "PRIVATE KEY" not in text and key_body[:64] not in text
    assert "authorization" not in text.lower() or '"authorization": "[REDACTED]"' in text.lower()
    assert "Bearer ey" not in text and "token ghs_" not in text
