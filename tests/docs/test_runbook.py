"""The runbook uses the product: every `reviewops` command in docs/runbook.md parses against the real CLI, every
API path it names exists in the app's OpenAPI, and the commands an operator runs first in an incident are run
here, verbatim (placeholders filled), against real PostgreSQL and Redis."""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import typer
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from reviewops.cli.main import app
from reviewops.db.models import AuditLog, DeadLetter, Review, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.settings import Settings
from tests.support.deliveries import store
from tests.support.faults import bulk_dead_letters
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.support.webhooks import SECRET, load_payload
from tests.test_project import ROOT

RUNBOOK = ROOT / "docs" / "runbook.md"
# What the runbook's placeholders stand for when a command is parsed (not run).
PLACEHOLDERS = {"TENANT_ID": "1", "ID": "1", "KEY_ID": "1", "DELIVERY_GUID": "d-1", "POD": "pod"}
HTTP_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
runner = CliRunner()


# --- extraction ---


def runbook_text() -> str:
    return RUNBOOK.read_text()


def code_snippets(text: str) -> list[str]:
    """Lines of fenced code blocks plus inline code spans: where the runbook puts commands and calls."""
    snippets: list[str] = []
    fenced = re.findall(r"^\s*```[a-z]*\n(.*?)^\s*```", text, flags=re.MULTILINE | re.DOTALL)
    for block in fenced:
        snippets.extend(line.strip() for line in block.splitlines() if line.strip())
    outside = re.sub(r"^\s*```[a-z]*\n.*?^\s*```", "", text, flags=re.MULTILINE | re.DOTALL)
    snippets.extend(span.strip() for span in re.findall(r"`([^`\n]+)`", outside))
    return snippets


def cli_commands(text: str | None = None) -> list[str]:
    return sorted({s for s in code_snippets(text or runbook_text()) if s.startswith("reviewops ")})


def api_calls(text: str | None = None) -> list[tuple[str, str]]:
    """(method, path) of every `$URL/...` the runbook calls: curl -X, `VERB $URL/...`, or GET."""
    calls = set()
    for snippet in code_snippets(text or runbook_text()):
        for match in re.finditer(r"(?:\b(GET|POST|PATCH|PUT|DELETE) )?\$URL(/[^\s\"'`?]*)", snippet):
            verb, path = match.group(1), match.group(2).rstrip(".,;)")
            if verb is None:
                explicit = re.search(r"-X (\w+)", snippet)
                if snippet.startswith("reviewops send-test-webhook"):
                    verb = "POST"
                else:
                    verb = explicit.group(1) if explicit and snippet.startswith("curl") else "GET"
            calls.add((verb, path))
    return sorted(calls)


def fill(command: str, values: dict[str, str]) -> list[str]:
    """shlex-split a runbook line, replacing $VARS and UPPER_CASE placeholders by real values."""
    args = shlex.split(command)
    out = []
    for arg in args:
        for name, value in values.items():
            arg = arg.replace("$" + name, value)
        out.append(values.get(arg, PLACEHOLDERS.get(arg, arg)))
    return out


def resolve(args: list[str]) -> tuple[list[str], Any, list[str]]:
    """(subcommand path, the click command, its own arguments) for `reviewops ...` args."""
    command: Any = typer.main.get_command(app)  # typer vendors click: groups are known by `commands`
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            return (
                [*path, rest[0], *(rest[1:2] if rest[1:] and not rest[1].startswith("-") else [])],
                None,
                [],
            )
        path.append(rest.pop(0))
        command = sub
    return path, command, rest


# --- the extraction itself is right (else every test below could pass vacuously) ---


def test_extraction_finds_the_commands_and_calls() -> None:
    sample = """Run `reviewops dlq show ID` and:

```bash
reviewops retention purge --older-than 90d --dry-run
curl -X PATCH -H 'X: y' $URL/api/v1/admin/tenants/TENANT_ID/limits
```
then `GET $URL/api/v1/admin/stats`, `reviewops send-test-webhook --url $URL/webhooks/github`.
"""
    assert cli_commands(sample) == [
        "reviewops dlq show ID",
        "reviewops retention purge --older-than 90d --dry-run",
        "reviewops send-test-webhook --url $URL/webhooks/github",
    ]
    assert api_calls(sample) == [
        ("GET", "/api/v1/admin/stats"),
        ("PATCH", "/api/v1/admin/tenants/TENANT_ID/limits"),
        ("POST", "/webhooks/github"),
    ]


def test_the_runbook_covers_the_issue_commands() -> None:
    groups = {tuple(shlex.split(c)[1:3]) for c in cli_commands()}
    for needed in [("send-test-webhook",), ("dlq", "replay"), ("retention", "purge"),
                   ("rotate-webhook-secret",), ("deliveries", "recover")]:  # fmt: skip
        assert any(g[: len(needed)] == needed for g in groups), needed
    commands = cli_commands()
    assert "reviewops retention purge --older-than 90d --dry-run" in commands
    assert any("--dry-run" in c for c in commands if c.startswith("reviewops dlq replay"))


# --- every command parses against the real CLI ---


@pytest.mark.parametrize("command", cli_commands())
def test_command_parses_against_the_cli(command: str) -> None:
    args = fill(
        command, {"URL": "http://127.0.0.1:8000", "SECRET_FROM_GITHUB_SETTINGS": "s", "NEW_SECRET": "s"}
    )
    path, cmd, own = resolve(args[1:])
    assert cmd is not None, f"{command}: no such command `reviewops {' '.join(path)}`"
    help_result = runner.invoke(app, [*path, "--help"])
    assert help_result.exit_code == 0, help_result.output
    known = {opt for param in cmd.params for opt in [*param.opts, *param.secondary_opts]}
    for token in own:
        if token.startswith("--"):
            assert token.split("=", 1)[0] in known, f"{command}: `reviewops {' '.join(path)}` has no {token}"
    # Full parse (types, choices, bounds) without running the command.
    cmd.make_context(" ".join(["reviewops", *path]), own)


# --- every API path exists, with that method ---


def openapi_routes(client: Any) -> list[tuple[str, re.Pattern[str]]]:
    routes = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        routes.extend((method.upper(), pattern) for method in operations)
    return routes


def test_every_api_call_exists_in_openapi(client: Any) -> None:
    routes = openapi_routes(client)
    calls = api_calls()
    assert ("PATCH", "/api/v1/admin/tenants/TENANT_ID/limits") in calls  # the extraction found them
    assert ("GET", "/webhooks/github/deliveries/DELIVERY_GUID") in calls
    missing = [
        f"{method} {path}" for method, path in calls
        if not any(m == method and pattern.match(path) for m, pattern in routes)
    ]  # fmt: skip
    assert missing == [], f"runbook calls not in the OpenAPI: {missing}"


# --- the commands run, verbatim, against PostgreSQL and Redis ---


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database, redis_client: redis.Redis) -> None:
    monkeypatch.setenv("REVIEWOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REVIEWOPS_REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("REVIEWOPS_WEBHOOK_SECRETS", SECRET)


def serve(settings: Settings, db: Database, broker: Any) -> Iterator[str]:
    from api.main import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, db=db, broker=broker), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def runbook_line(prefix: str) -> str:
    """The runbook's one command starting with `prefix` (so the test runs what the runbook says)."""
    matching = [c for c in cli_commands() if c.startswith(prefix)]
    assert len(matching) == 1, f"runbook commands starting with {prefix!r}: {matching}"
    return matching[0]


def run(command: str, **values: str) -> Any:
    args = fill(command, values)
    assert args[0] == "reviewops"
    return runner.invoke(app, args[1:])


@pytest.fixture
def live_url(settings: Settings, db: Database, broker: Any) -> Iterator[str]:
    yield from serve(settings, db, broker)


def test_send_test_webhook_checks_the_configured_secret(env: None, live_url: str, db: Database) -> None:
    command = runbook_line(
        'reviewops send-test-webhook --url $URL/webhooks/github --secret "$SECRET_FROM_GITHUB_SETTINGS"'
    )
    ok = run(command, URL=live_url, SECRET_FROM_GITHUB_SETTINGS=SECRET)
    assert ok.exit_code == 0, ok.output
    assert "HTTP 202" in ok.stdout
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one() == 1
    # As the runbook says: a secret the deployment does not have answers 401 signature-mismatch.
    wrong = run(command, URL=live_url, SECRET_FROM_GITHUB_SETTINGS="not-the-secret")
    assert wrong.exit_code == 1 and "HTTP 401" in wrong.stdout and "signature-mismatch" in wrong.stdout
    # The plain check (default secret from REVIEWOPS_WEBHOOK_SECRETS) of the alert sections.
    plain = run("reviewops send-test-webhook --url $URL/webhooks/github", URL=live_url)
    assert plain.exit_code == 0 and "HTTP 202" in plain.stdout


def test_rotate_webhook_secret_then_check_with_both_secrets(
    env: None, settings: Settings, db: Database, broker: Any
) -> None:
    rotated = run(runbook_line("reviewops rotate-webhook-secret"))
    assert rotated.exit_code == 0, rotated.output
    new_secret = re.search(r"^\s+([0-9a-f]{64})$", rotated.stdout, flags=re.MULTILINE)
    assert new_secret is not None, rotated.stdout
    with db.session() as s:
        actions = s.execute(select(AuditLog.action)).scalars().all()
    assert "webhook_secret.rotation_started" in actions
    # Step 1 of the runbook: [NEW, OLD] configured; the check with the new secret is accepted.
    both = settings.model_copy(
        update={"webhook_secrets": [SecretStr(new_secret.group(1)), SecretStr(SECRET)]}
    )
    check = runbook_line('reviewops send-test-webhook --url $URL/webhooks/github --secret "$NEW_SECRET"')
    for url in serve(both, db, broker):
        accepted = run(check, URL=url, NEW_SECRET=new_secret.group(1))
        assert accepted.exit_code == 0 and "HTTP 202" in accepted.stdout, accepted.output
        old = run(check, URL=url, NEW_SECRET=SECRET)
        assert old.exit_code == 0, "the old secret must keep working until step 4"


def test_dlq_commands_list_show_and_dry_run_replay(env: None, db: Database) -> None:
    (transient,) = bulk_dead_letters(db, 1, tenant_id=1, failed_at=utcnow() - timedelta(minutes=5))
    bulk_dead_letters(db, 1, tenant_id=2, error_type="permanent")
    listed = run(runbook_line("reviewops dlq list"))
    assert listed.exit_code == 0 and str(transient) in listed.stdout, listed.output
    shown = run(runbook_line("reviewops dlq show"), ID=str(transient))
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == transient, shown.output

    by_type = run("reviewops dlq replay --error-type transient --dry-run")
    assert by_type.exit_code == 0, by_type.output
    assert (
        "dry run: 1 dead letter(s) would be replayed" in by_type.stdout and str(transient) in by_type.stdout
    )
    by_tenant = run(runbook_line("reviewops dlq replay --tenant"), TENANT_ID="2")
    assert by_tenant.exit_code == 0 and "dry run: 1 dead letter(s)" in by_tenant.stdout, by_tenant.output
    with db.session() as s:  # a dry run changes nothing
        states = s.execute(select(DeadLetter.replay_state)).scalars().all()
    assert states == ["pending", "pending"]


def age(db: Database, delivery_id: int, days: int) -> None:
    when = utcnow() - timedelta(days=days)
    with db.session() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                  .values(status="processed", created_at=when))  # fmt: skip
        s.add(Review(repository="o/r", pr_number=1, head_sha="x", status="completed", created_at=when,
                     delivery_id=delivery_id, timings={}))  # fmt: skip


def test_retention_purge_dry_run_then_for_real(env: None, db: Database) -> None:
    old = store(db, "ping", load_payload("ping/payload.json"))
    recent = store(db, "ping", load_payload("ping/payload.json"))
    age(db, old, 120)
    age(db, recent, 10)

    def remaining() -> set[int]:
        with db.session() as s:
            return set(s.execute(select(WebhookDelivery.id)).scalars())

    dry = run("reviewops retention purge --older-than 90d --dry-run")
    assert dry.exit_code == 0, dry.output
    assert "webhook_deliveries: would delete 1" in dry.stdout and "reviews: would delete 1" in dry.stdout
    assert remaining() == {old, recent}
    real = run(runbook_line("reviewops retention purge --older-than 90d --batch-size"))
    assert real.exit_code == 0, real.output
    assert "webhook_deliveries: deleted 1" in real.stdout
    assert remaining() == {recent}


def test_deliveries_recover_dry_run(env: None) -> None:
    _, cmd, _ = resolve(["deliveries", "recover"])
    assert cmd is not None
    # Without a GitHub App configured it must refuse clearly (exit 2), never pretend to have recovered.
    result = run(runbook_line("reviewops deliveries recover --since 72h --dry-run"))
    assert result.exit_code == 2 and "GitHub App" in result.output
