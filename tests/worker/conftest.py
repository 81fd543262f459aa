"""Fixtures shared by the worker's end-to-end tests: a real dramatiq worker wired to the fake GitHub with the
deterministic review engine, and an API client on the same settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.fake_github import FakeGitHub
from tests.support.review_engine import DEPS


@pytest.fixture
def review_worker(
    broker: dramatiq.Broker, github_settings: Settings, db: Database, fake_github: FakeGitHub
) -> Iterator[dramatiq.Worker]:
    from worker.main import start_worker

    w = start_worker(broker, github_settings, db, threads=2, review_deps=DEPS)
    yield w
    w.stop(timeout=10000)


@pytest.fixture
def gh_client(github_settings: Settings, db: Database, broker: dramatiq.Broker) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(github_settings, db=db, broker=broker)) as c:
        yield c
