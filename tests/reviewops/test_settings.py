from pathlib import Path

import pytest

from reviewops.settings import ConfigurationError, load_settings


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/reviewops/reviewops.db"
    assert settings.redis_url is None and settings.embedded
    assert settings.github_api_url == "https://api.github.com"
    assert settings.webhook_secrets == []


def test_comma_separated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_WEBHOOK_SECRETS", "new, old ,")
    assert [s.get_secret_value() for s in load_settings().webhook_secrets] == ["new", "old"]


def test_plain_postgres_url_uses_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_DATABASE_URL", "postgresql://u:p@db/reviewops")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db/reviewops"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REVIEWOPS_DATABASE_URL", "mysql://x"),
        ("REVIEWOPS_REDIS_URL", "http://redis"),
        ("REVIEWOPS_LOG_LEVEL", "LOUD"),
        ("REVIEWOPS_PORT", "0"),
        ("REVIEWOPS_GITHUB_APP_ID", "not-a-number"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_secret_values_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_WEBHOOK_SECRETS", "supersecretvalue")
    monkeypatch.setenv("REVIEWOPS_ADMIN_TOKEN", "admintokenvalue")
    text = repr(load_settings())
    assert "supersecretvalue" not in text and "admintokenvalue" not in text


def test_reviews_in_flight_sets_the_worker_threads_and_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread per review in flight; the deprecated REVIEWOPS_WORKER_THREADS still wins when set; the
    worker's database pool lets every thread have a connection without keeping them all open."""
    from worker.main import worker_pool

    monkeypatch.delenv("REVIEWOPS_WORKER_THREADS", raising=False)
    monkeypatch.delenv("REVIEWOPS_REVIEWS_IN_FLIGHT", raising=False)
    assert load_settings().worker_thread_count == 32
    monkeypatch.setenv("REVIEWOPS_REVIEWS_IN_FLIGHT", "100")
    assert load_settings().worker_thread_count == 100
    monkeypatch.setenv("REVIEWOPS_WORKER_THREADS", "4")
    assert load_settings().worker_thread_count == 4
    assert worker_pool(32) == {"pool_size": 10, "max_overflow": 22}
    assert worker_pool(4) == {"pool_size": 4, "max_overflow": 0}
