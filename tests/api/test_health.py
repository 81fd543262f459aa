from typing import Any

from fastapi.testclient import TestClient

from api.main import create_app
from reviewops.queue.broker import build_broker
from tests.support.servers import free_port


def test_health(client: Any) -> None:
    assert client.get("/health").json() == {"status": "healthy", "service": "reviewops"}


def test_ready_when_everything_is_up(client: Any) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_ready_stays_ready_and_names_the_broker_when_redis_is_unreachable(settings: Any, db: Any) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    broker = build_broker(dead_redis)
    app = create_app(settings.model_copy(update={"redis_url": dead_redis}), db=db, broker=broker)
    with TestClient(app) as c:
        response = c.get("/ready")
        text = c.get("/metrics").text
    assert response.status_code == 200
    assert response.json()["status"] == "degraded" and response.json()["down"] == ["broker"]
    assert 'reviewops_dependency_up{dependency="broker"} 0.0' in text
    assert 'reviewops_dependency_up{dependency="database"} 1.0' in text


def test_ready_fails_when_the_database_is_unreachable(settings: Any, broker: Any) -> None:
    from reviewops.db.session import Database

    dead_db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    app = create_app(settings, db=dead_db, broker=broker)
    try:
        with TestClient(app) as c:
            response = c.get("/ready")
    finally:
        dead_db.dispose()
    assert response.status_code == 503
    assert response.json()["down"] == ["database"] and response.json()["status"] == "not ready"


def test_metrics_exposes_delivery_counters(client: Any) -> None:
    text = client.get("/metrics").text
    for name in (
        "reviewops_webhook_deliveries_total",
        "reviewops_deliveries_processed_total",
        "reviewops_delivery_processing_seconds",
        "reviewops_webhook_ack_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
