import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from reviewops.db.models import AuditLog
from reviewops.db.session import Database


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reviewops", *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_rotate_prints_a_new_secret_and_steps_and_audits(db: Database, migrated_postgres: str) -> None:
    result = run(["rotate-webhook-secret"], REVIEWOPS_DATABASE_URL=migrated_postgres,
                 REVIEWOPS_WEBHOOK_SECRETS="old-one")  # fmt: skip
    assert result.returncode == 0, result.stderr
    secret = re.search(r"^\s+([0-9a-f]{64})$", result.stdout, re.MULTILINE)
    assert secret, result.stdout
    assert f"REVIEWOPS_WEBHOOK_SECRETS={secret.group(1)},<old secret>" in result.stdout
    assert "send-test-webhook" in result.stdout and "Currently configured secrets: 1" in result.stdout
    second = run(["rotate-webhook-secret", "--no-audit"], REVIEWOPS_DATABASE_URL=migrated_postgres)
    assert secret.group(1) not in second.stdout
    with db.session() as s:
        rows = s.execute(select(AuditLog)).scalars().all()
    assert [r.action for r in rows] == ["webhook_secret.rotation_started"]
    assert secret.group(1) not in str(rows[0].details)


def test_rotate_without_database_still_prints(tmp_path: Path) -> None:
    result = run(["rotate-webhook-secret"], REVIEWOPS_DATABASE_URL=f"sqlite:///{tmp_path}/none.db")
    assert result.returncode == 0
    assert "not audited" in result.stderr


def test_rotate_counts_the_development_secret_serve_uses(tmp_path: Path) -> None:
    """Before issue 18 it said 0 secrets while `serve` verified with the development secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    secret_file = tmp_path / "data" / "reviewops" / "webhook-secret"
    result = subprocess.run([sys.executable, "-m", "reviewops", "rotate-webhook-secret", "--no-audit"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "Currently configured secrets: 0" in result.stdout  # nothing yet: serve has not run
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text("dev")
    result = subprocess.run([sys.executable, "-m", "reviewops", "rotate-webhook-secret", "--no-audit"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "Currently configured secrets: 1 (the development secret" in result.stdout, result.stdout


def test_help_shows_no_type_after_flags() -> None:
    """typer showed `--dry-run <bool>` and `--help <bool>`, as if they took a value."""
    for command in (["dlq", "replay"], ["deliveries", "recover"], ["review"]):
        out = run([*command, "--help"], COLUMNS="200").stdout
        assert "--help" in out and "<bool>" not in out, out
