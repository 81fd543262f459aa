"""The migrations build exactly the schema the models describe, on PostgreSQL and on SQLite."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from reviewops.db.migrate import current_heads, downgrade, upgrade
from reviewops.db.models import Base


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_postgres_migrations_match_models(migrated_postgres: str) -> None:
    assert _diff(migrated_postgres) == []


def test_sqlite_migrations_match_models_and_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert _diff(url) == []
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_one_head() -> None:
    assert len(current_heads("sqlite://")) == 1


def test_constraint_names_follow_the_convention(migrated_postgres: str) -> None:
    engine = create_engine(migrated_postgres)
    insp = inspect(engine)
    uniques = {u["name"] for u in insp.get_unique_constraints("webhook_deliveries")}
    assert "uq_webhook_deliveries_app_id_delivery_guid" in uniques
    assert insp.get_pk_constraint("reviews")["name"] == "pk_reviews"
    engine.dispose()


def _payload_compression(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        method = conn.execute(
            text(
                "SELECT attcompression FROM pg_attribute "
                "WHERE attrelid = 'webhook_deliveries'::regclass AND attname = 'payload'"
            )
        ).scalar_one()
    engine.dispose()
    return str(method)


def test_webhook_payloads_are_lz4_compressed_on_postgres(migrated_postgres: str) -> None:
    """pglz was the largest part of PostgreSQL's CPU per delivery on the intake (bench/ingest.py)."""
    assert _payload_compression(migrated_postgres) == "l"
    downgrade(migrated_postgres, "0001")
    try:
        assert _payload_compression(migrated_postgres) == ""  # the server's default again
    finally:
        upgrade(migrated_postgres)
    assert _payload_compression(migrated_postgres) == "l"
