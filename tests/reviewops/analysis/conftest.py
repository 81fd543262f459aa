"""Fixtures for the review engine tests: the fake OpenAI-compatible server and context builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAI

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "diffs"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def realworld_diff() -> str:
    # newline="" keeps the CRLF lines of win.py exactly as git wrote them.
    return (FIXTURES / "realworld.diff").read_bytes().decode("utf-8")
