"""Export before purge: what `reviewops retention purge --export DIR` deletes is first written as gzipped
JSON lines, one file per batch, so history can be kept outside the database.

Each batch is written to `<table>-<first id>.jsonl.gz.tmp`, flushed to disk and renamed, and only then
deleted in the database. A purge stopped anywhere resumes without loss or duplication: a batch whose
delete never committed is selected again from the same first id and its file is written again under the
same name (replacing the earlier one); a `.tmp` left by a crash is never read as an export.
Deliveries are exported without their payload (metadata only); a review's findings go with it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from reviewops.db.models import Finding, Review

# Columns never exported: the webhook's payload (large, and the user's code and text).
OMITTED = {"webhook_deliveries": {"payload"}}


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def row_dict(row: Any, omit: Iterable[str] = ()) -> dict[str, Any]:
    skip = set(omit)
    return {c.key: _value(getattr(row, c.key)) for c in inspect(row).mapper.column_attrs if c.key not in skip}


def rows_of(session: Session, table: str, model: type, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The batch's rows as they will be deleted (reviews with their findings)."""
    pk: Any = inspect(model).primary_key[0]
    rows: Sequence[Any] = session.execute(select(model).where(pk.in_(ids)).order_by(pk)).scalars().all()
    exported = [row_dict(r, OMITTED.get(table, ())) for r in rows]
    if model is Review:
        findings: dict[int, list[dict[str, Any]]] = {}
        for f in session.execute(select(Finding).where(Finding.review_id.in_(ids))).scalars():
            findings.setdefault(f.review_id, []).append(row_dict(f))
        for item in exported:
            item["findings"] = findings.get(item["id"], [])
    return exported


def write_batch(directory: Path, table: str, rows: Sequence[dict[str, Any]]) -> Path:
    """Write one batch durably; returns the final file (named by the batch's first id)."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{table}-{rows[0]['id']:012d}.jsonl.gz"
    partial = final.with_name(final.name + ".tmp")
    with open(partial, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as out:
            for row in rows:
                out.write(orjson.dumps(row) + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    partial.replace(final)
    return final
