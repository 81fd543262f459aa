"""The review pipeline with the REAL engine (secrets, python-lint, hygiene, LLM, QA checklist) end to end:
signed webhook -> API -> Redis -> real dramatiq worker -> fake GitHub (OpenAPI-validated) and a fake
OpenAI-compatible server -> PostgreSQL."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from reviewops.db.models import Finding, Review
from reviewops.db.session import Database
from reviewops.reviews.render import SUMMARY_MARKER
from reviewops.settings import Settings
from tests.support.deliveries import post_until_processed, pr_payload
from tests.support.fake_github import FakeGitHub
from tests.support.fake_openai import FakeOpenAI

REPO = "octo/demo"
INSTALLATION = 77
HEAD = "3" * 40
AWS_KEY = "AKIA" + "Q7RZ3XW5KDM2PL4N"
GH_TOKEN = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
SOURCE = [
    "import os",
    "import sys",  # F401: imported but unused (python-lint)
    f'AWS_KEY = "{AWS_KEY}"',
    f'TOKEN = "{GH_TOKEN}"',
    "",
    "",
    "def main():",
    '    print("debug")',  # hygiene: debug print
    "    return os.getcwd()",
]
LLM_LINE = 9


def added_patch(lines: list[str]) -> str:
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)


FILES = [
    {"filename": "app.py", "status": "added", "patch": added_patch(SOURCE), "additions": len(SOURCE)},
    {"filename": "README.md", "status": "modified", "additions": 1, "deletions": 1,
     "patch": "@@ -1,3 +1,3 @@\n # Demo\n-Run it.\n+Run it with `python app.py`.\n More text."},
    {"filename": "logo.png", "status": "added", "patch": None},
]  # fmt: skip


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.findings = [
            {"path": "app.py", "line": LLM_LINE, "severity": "warning", "category": "bug",
             "message": "os.getcwd() depends on where the program is started; pass the directory in."},
            {"path": "app.py", "line": 40, "severity": "error", "message": "a line that is not in the diff"},
        ]  # fmt: skip
        yield server


@pytest.fixture
def llm_settings(github_settings: Settings, llm: FakeOpenAI) -> Settings:
    return github_settings.model_copy(
        update={
            "llm_base_url": llm.url, "llm_model": "fake-model", "llm_api_key": SecretStr("sk-test"),
            "llm_max_retries": 0, "llm_timeout_seconds": 5,
        }
    )  # fmt: skip


@pytest.fixture
def start_worker(broker: dramatiq.Broker, db: Database) -> Iterator[Callable[[Settings], None]]:
    """Start the real worker with the real engine (default_deps) and the given settings."""
    from worker.main import start_worker as start

    started: list[dramatiq.Worker] = []

    def go(settings: Settings) -> None:
        started.append(start(broker, settings, db, threads=2))

    yield go
    for w in started:
        w.stop(timeout=10000)


@pytest.fixture
def api(github_settings: Settings, db: Database, broker: dramatiq.Broker) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(github_settings, db=db, broker=broker)) as c:
        yield c


def seed(fake: FakeGitHub) -> None:
    fake.add_pull(REPO, 5, head_sha=HEAD, files=FILES, title="Add the app", body="Adds main().")
    fake.set_file(REPO, "app.py", "\n".join(SOURCE) + "\n", ref=HEAD)
    fake.set_file(REPO, ".reviewops.yaml", "severity_threshold: info\n", ref="main")


def opened(client: Any, db: Database) -> Review:
    payload = pr_payload(REPO, INSTALLATION, "opened", 5, HEAD)
    post_until_processed(client, db, "pull_request", payload, timeout=120)
    with db.session() as s:
        (review,) = s.execute(select(Review)).scalars()
        return review


def stored_findings(db: Database, review_id: int) -> list[Finding]:
    with db.session() as s:
        return list(s.execute(select(Finding).where(Finding.review_id == review_id)).scalars())


def summary(fake: FakeGitHub) -> str:
    """The PR's summary: the body of the review ReviewOps posted (no separate issue comment)."""
    assert 5 not in fake.repos[REPO].issue_comments
    (review,) = fake.repos[REPO].reviews[5]
    assert SUMMARY_MARKER in review["body"]
    return str(review["body"])


def test_opened_real_engine_posts_one_review_with_llm_and_deterministic_findings(
    api: Any, db: Database, fake_github: FakeGitHub, llm: FakeOpenAI, llm_settings: Settings,
    start_worker: Callable[[Settings], None], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    seed(fake_github)
    start_worker(llm_settings)
    review = opened(api, db)
    assert review.status == "completed", review.status_reason

    repo = fake_github.repos[REPO]
    assert len(repo.reviews[5]) == 1
    comments = repo.review_comments[5]
    by_line = {(c["path"], c["line"]): c["body"] for c in comments}
    # Every inline comment is on an added line of the diff (the fake also rejects anything else).
    assert all(c["path"] == "app.py" and 1 <= c["line"] <= len(SOURCE) for c in comments)
    assert ("app.py", 3) in by_line and ("app.py", 4) in by_line  # the AWS key and the GitHub token
    assert ("app.py", 2) in by_line and "F401" in by_line[("app.py", 2)]  # python-lint (ruff)
    assert ("app.py", 8) in by_line  # hygiene: debug print
    assert "getcwd" in by_line[("app.py", LLM_LINE)]  # the LLM's finding
    assert "not in the diff" not in fake_github.sent_text()  # the LLM's off-diff finding was dropped
    rules = {f.rule_id for f in stored_findings(db, review.id)}
    assert {"ruff/F401", "hygiene/debug-print", "llm/bug"} <= rules
    assert any(r.startswith("secrets/") for r in rules)

    (run,) = repo.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] == "failure" and run["head_sha"] == HEAD
    text = summary(fake_github)
    assert HEAD[:12] in text and "logo.png" in text  # the binary file is listed, not analyzed
    assert review.llm_prompt_tokens > 0  # the LLM was really called (review and QA checklist)
    assert llm.requests and all(r.body["model"] == "fake-model" for r in llm.requests)

    # The secrets never left: not to GitHub, not to the LLM, not into the logs.
    for secret in (AWS_KEY, GH_TOKEN):
        assert secret not in fake_github.sent_text()
        assert all(secret not in r.prompt for r in llm.requests)
        assert secret not in caplog.text
    assert "Possible AWS access key" in by_line[("app.py", 3)]  # said without echoing the value


def test_llm_garbage_is_skipped_and_said_so(
    api: Any, db: Database, fake_github: FakeGitHub, llm: FakeOpenAI, llm_settings: Settings,
    start_worker: Callable[[Settings], None],
) -> None:  # fmt: skip
    llm.mode = "garbage"
    seed(fake_github)
    start_worker(llm_settings)
    review = opened(api, db)
    assert review.status == "completed", review.status_reason
    assert "LLM review skipped" in summary(fake_github)
    rules = {f.rule_id for f in stored_findings(db, review.id)}
    assert "ruff/F401" in rules and not any(r.startswith("llm/") for r in rules)
    assert llm.requests  # it was asked, and its answer was refused


@pytest.mark.parametrize("failure", ["http-500", "unreachable"])
def test_llm_down_still_posts_the_deterministic_findings(
    api: Any, db: Database, fake_github: FakeGitHub, llm: FakeOpenAI, llm_settings: Settings,
    start_worker: Callable[[Settings], None], failure: str,
) -> None:  # fmt: skip
    settings = llm_settings
    if failure == "http-500":
        llm.mode = "error"
    else:
        settings = llm_settings.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    seed(fake_github)
    start_worker(settings)
    review = opened(api, db)
    assert review.status == "completed", review.status_reason
    lines = {c["line"] for c in fake_github.repos[REPO].review_comments[5]}
    assert {2, 3, 4, 8} <= lines and LLM_LINE not in lines
    assert "LLM review skipped" in summary(fake_github)
    assert bool(llm.requests) == (failure == "http-500")


def test_mock_llm_mode_end_to_end(
    api: Any, db: Database, fake_github: FakeGitHub, github_settings: Settings,
    start_worker: Callable[[Settings], None],
) -> None:  # fmt: skip
    seed(fake_github)
    start_worker(github_settings.model_copy(update={"mock_llm": True}))
    review = opened(api, db)
    assert review.status == "completed", review.status_reason
    mocked = [c for c in fake_github.repos[REPO].review_comments[5] if "[mock LLM]" in c["body"]]
    # The canned comment on the first added line of each text file; the binary one is left alone.
    assert sorted((c["path"], c["line"]) for c in mocked) == [("README.md", 2), ("app.py", 1)]
    assert any(f.analyzer == "llm" for f in stored_findings(db, review.id))
    assert AWS_KEY not in fake_github.sent_text() and GH_TOKEN not in fake_github.sent_text()


BASE = "b" * 40  # the fake's default base sha of a pull request


def test_linters_use_the_base_commit_config_and_report_only_new_diagnostics(
    api: Any, db: Database, fake_github: FakeGitHub, github_settings: Settings,
    start_worker: Callable[[Settings], None],
) -> None:  # fmt: skip
    """ruff's configuration and the files' previous content come from the contents API at the base sha:
    the project's per-file ignores hold, and a diagnostic the code already had is not blamed on the PR
    even when the PR re-indents its line."""
    before = ["import json", "", "", "def old():", "    stale = 1", "    return json", ""]
    after = ["import json", "", "", "class Box:", "    def old(self):", "        stale = 1", "        return json",
             "", "    def new(self):", "        fresh = 2", "        return 0", ""]  # fmt: skip
    patch = "\n".join(list(difflib.unified_diff(before, after, lineterm=""))[2:])
    init = ["from .box import *"]
    files = [
        {"filename": "pkg/box.py", "status": "modified", "patch": patch, "additions": 9, "deletions": 3},
        {"filename": "pkg/__init__.py", "status": "added", "patch": added_patch(init), "additions": 1},
    ]
    fake_github.add_pull(REPO, 5, head_sha=HEAD, files=files, title="Box it")
    fake_github.set_file(REPO, "pkg/box.py", "\n".join(after), ref=HEAD)
    fake_github.set_file(REPO, "pkg/__init__.py", "\n".join(init) + "\n", ref=HEAD)
    fake_github.set_file(REPO, "pkg/box.py", "\n".join(before), ref=BASE)
    config = '[tool.ruff.lint]\nselect = ["F"]\n[tool.ruff.lint.per-file-ignores]\n"__init__.py" = ["F403"]\n'
    fake_github.set_file(REPO, "pyproject.toml", config, ref=BASE)
    # The head's configuration would switch F841 off: a PR cannot relax its own review.
    fake_github.set_file(REPO, "pyproject.toml", '[tool.ruff.lint]\nignore = ["F841"]\n', ref=HEAD)
    start_worker(github_settings)
    review = opened(api, db)
    assert review.status == "completed", review.status_reason

    python = [
        (f.rule_id, f.start_line) for f in stored_findings(db, review.id) if f.analyzer == "python-lint"
    ]
    assert python == [("ruff/F841", 10)]  # `fresh`; not the re-indented `stale`, not the allowed star import
    refs = {(c.path.rsplit("/contents/", 1)[-1], c.query.get("ref")) for c in fake_github.calls_to(
        "/repos/{owner}/{repo}/contents/{path}", "GET")}  # fmt: skip
    assert ("pyproject.toml", BASE) in refs and ("pkg/box.py", BASE) in refs
