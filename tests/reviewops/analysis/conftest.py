"""Fixtures for the review engine tests: the fake OpenAI-compatible server and context builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAI

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "diffs"


@pytest.fixture(autouse=True)
def _fresh_llm_memory() -> Iterator[None]:
    """What the client learnt about endpoints (answer form, context window) lives for the process: each
    test starts without it, as a fresh worker would."""
    from reviewops.analysis.llm.forms import forget_forms
    from reviewops.analysis.llm.limits import forget_contexts

    forget_forms()
    forget_contexts()
    yield
    forget_forms()
    forget_contexts()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def realworld_diff() -> str:
    # newline="" keeps the CRLF lines of win.py exactly as git wrote them.
    return (FIXTURES / "realworld.diff").read_bytes().decode("utf-8")
