"""Engine and session factory, shared by the API, the worker and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the in-process worker read while the API writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder: the embedded default's folder may not exist yet."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: ~7x faster than `json` on a webhook payload, on the intake's
    hot path (non-string keys are turned into strings, as `json` does)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_timeout", 5)
    # Fail fast when the database is unreachable: the webhook must answer 503 well within GitHub's 10 s.
    kwargs.setdefault("connect_args", {"connect_timeout": 3})
    return create_engine(url, **kwargs)


class Database:
    """An engine plus its session factory; one per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._engine_kwargs = engine_kwargs
        self._intake_engine: Engine | None = None

    @property
    def intake_engine(self) -> Engine:
        """Autocommit connections for single-statement writes on the webhook's hot path.

        On PostgreSQL a small pool of its own without pre-ping: the ping is a round trip per request,
        and callers retry a dropped connection once instead (reviewops.deliveries.intake). SQLite shares
        the main engine.
        """
        if self._intake_engine is None:
            if self.is_sqlite:
                self._intake_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            else:
                options = {
                    "pool_pre_ping": False,
                    "isolation_level": "AUTOCOMMIT",
                    "skip_autocommit_rollback": True,
                    # One statement per checkout, held for a round trip: 5 (+5 in a burst) is plenty and
                    # keeps an API process's share of max_connections near what it was with one pool.
                    "pool_size": 5,
                    "max_overflow": 5,
                }
                self._intake_engine = make_engine(self.url, **{**self._engine_kwargs, **options})
        return self._intake_engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        if self._intake_engine is not None and not self.is_sqlite:
            self._intake_engine.dispose()
        self.engine.dispose()
