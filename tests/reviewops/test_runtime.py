"""GC tuning: start-up objects frozen, young collections rarer (a quarter of the API's CPU per webhook)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from reviewops.db.session import Database
from reviewops.runtime import tune_gc
from reviewops.settings import Settings


@pytest.fixture
def python_gc_defaults() -> Iterator[None]:
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_gc_freezes_and_raises_the_young_threshold(python_gc_defaults: None) -> None:
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, 10, 10)
    assert gc.get_freeze_count() > 10_000  # everything the test process has built so far


def test_zero_leaves_pythons_defaults(python_gc_defaults: None) -> None:
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_the_api_tunes_the_gc_once_started(
    python_gc_defaults: None, settings: Settings, db: Database
) -> None:
    with TestClient(create_app(settings.model_copy(update={"gc_gen0_threshold": 9_000}), db=db)):
        assert gc.get_threshold()[0] == 9_000 and gc.get_freeze_count() > 0
