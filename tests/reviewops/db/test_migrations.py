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


# Migrations that contracted the schema before the expand/contract rule (none so far). A contract step
# (dropping what the previous release still reads) is listed here only in the release after the one that
# stopped using it, so `helm rollback` to the previous release keeps working on the new schema.
CONTRACT_REVISIONS: frozenset[str] = frozenset()


def _schema(url: str) -> dict[str, dict[str, dict[str, object]]]:
    engine = create_engine(url)
    insp = inspect(engine)
    schema = {
        table: {c["name"]: {"nullable": c["nullable"], "default": c.get("default"), "type": str(c["type"])}
                for c in insp.get_columns(table)}
        for table in insp.get_table_names()
    }  # fmt: skip
    engine.dispose()
    return schema


def test_every_migration_only_expands_so_the_previous_release_keeps_working(postgres_url: str) -> None:
    """Step through every revision on a fresh PostgreSQL database: no table or column the previous
    revision had disappears or changes type, and a column added to an existing table is nullable or has
    a server default (the previous release's INSERTs do not name it)."""
    from alembic.script import ScriptDirectory

    from reviewops.db.migrate import alembic_config

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS expand_check"))
        conn.execute(text("CREATE DATABASE expand_check"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/expand_check"
    revisions = [s.revision for s in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()][::-1]
    assert len(revisions) >= 3
    before: dict[str, dict[str, dict[str, object]]] = {}
    for revision in revisions:
        upgrade(url, revision)
        after = _schema(url)
        if revision not in CONTRACT_REVISIONS:
            for table, columns in before.items():
                assert table in after, f"{revision} drops table {table}"
                for name, column in columns.items():
                    assert name in after[table], f"{revision} drops {table}.{name}"
                    assert after[table][name]["type"] == column["type"], f"{revision} retypes {table}.{name}"
                for name in set(after[table]) - set(columns):
                    new = after[table][name]
                    assert new["nullable"] or new["default"] is not None, (
                        f"{revision} adds {table}.{name} NOT NULL without a server default"
                    )
        before = after
