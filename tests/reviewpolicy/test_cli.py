"""`reviewops operator` refuses bad configuration with exit code 2 and a message naming the option."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reviewops.cli.main import app
from reviewops.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    get_settings.cache_clear()


def test_needs_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVIEWOPS_REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["operator"])
    assert result.exit_code == 2 and "REVIEWOPS_REDIS_URL" in result.output


def test_bad_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_REDIS_URL", "redis://127.0.0.1:1/0")
    result = CliRunner().invoke(app, ["operator", "--namespace", "a/b"])
    assert result.exit_code == 2 and "--namespace" in result.output


def test_bad_metrics_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REVIEWOPS_OPERATOR_METRICS_PORT", "70000")
    result = CliRunner().invoke(app, ["operator"])
    assert result.exit_code == 2 and "REVIEWOPS_OPERATOR_METRICS_PORT" in result.output
