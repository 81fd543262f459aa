"""No planted credential leaves through the real pipeline: webhook -> worker (real engine) -> GitHub
(inline comments, suggestions, summary, check-run annotations), the LLM request, the logs and the stored
findings rows in PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from reviewops.db.models import Finding, Review
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.fake_github import FakeGitHub
from tests.support.fake_openai import FakeOpenAI
from tests.support.secrets_corpus import cases, leaked
from tests.worker.test_review_pipeline_real_engine import (  # noqa: F401  (fixtures)
    HEAD,
    REPO,
    api,
    llm,
    llm_settings,
    opened,
    start_worker,
)

CORPUS = cases(777)
F541_LINE = 'DB_PASSWORD = f"CorrectHorseBatteryStaple"'  # ruff offers a whole-line fix here


def _patch(lines: tuple[str, ...]) -> str:
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)


def seed(fake: FakeGitHub) -> None:
    files: list[dict[str, Any]] = []
    for case in CORPUS:
        # Flat names: the fake's contents endpoint (OpenAPI `{path}`) takes no slash in a path.
        path = case.path.replace("/", "__")
        if case.removed or case.context or any(f["filename"] == path for f in files):
            continue  # one version of each path; removed/context decoys are covered by the engine tests
        files.append({"filename": path, "status": "added", "patch": _patch(case.added),
                      "additions": len(case.added)})  # fmt: skip
        fake.set_file(REPO, path, "\n".join(case.added) + "\n", ref=HEAD)
    files.append({"filename": "db.py", "status": "added", "patch": _patch((F541_LINE,)), "additions": 1})
    fake.set_file(REPO, "db.py", F541_LINE + "\n", ref=HEAD)
    fake.add_pull(REPO, 5, head_sha=HEAD, files=files, title="Config", body="Adds the configuration.")
    fake.set_file(REPO, ".reviewops.yaml", "severity_threshold: info\nmax_comments: 100\n", ref="main")


def test_no_planted_value_reaches_github_the_llm_the_logs_or_the_database(
    api: Any, db: Database, fake_github: FakeGitHub, llm: FakeOpenAI, llm_settings: Settings,  # noqa: F811
    start_worker: Callable[[Settings], None], caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    seed(fake_github)
    start_worker(llm_settings)
    review = opened(api, db)
    assert review.status == "completed", review.status_reason
    with db.session() as s:
        rows = list(s.execute(select(Finding).where(Finding.review_id == review.id)).scalars())
        stored = "\n".join(f"{r.message}\n{r.suggestion or ''}\n{r.fingerprint}" for r in rows)
        (row,) = s.execute(select(Review).where(Review.id == review.id)).scalars()
        stored += "\n" + str(row.status_reason or "")
    assert sum(r.rule_id.startswith("secrets/") for r in rows) >= 40  # the credentials were reported
    assert any(r.rule_id == "ruff/F541" and r.suggestion is None for r in rows)  # its fix held a secret
    channels = {
        "github": fake_github.sent_text(),
        "llm": "\n".join(r.prompt for r in llm.requests),
        "logs": caplog.text,
        "database": stored,
    }
    assert llm.requests
    leaks = {
        name: {c.id: leaked(text, c) for c in CORPUS if leaked(text, c)} for name, text in channels.items()
    }
    assert leaks == {"github": {}, "llm": {}, "logs": {}, "database": {}}
    assert "CorrectHorseBatteryStaple" not in "\n".join(channels.values())
