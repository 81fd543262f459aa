"""`reviewops serve` with no configuration: SQLite, in-process broker, a webhook gets `processed`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, wait_for_port
from tests.support.waiting import wait_until

CLI = [sys.executable, "-m", "reviewops"]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), REVIEWOPS_ADMIN_TOKEN="tok")
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", env
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        if proc.returncode not in (0, -15):
            print(out.decode())


def test_serve_embedded_processes_a_pull_request(
    embedded: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = embedded
    payload = (
        Path(__file__).resolve().parents[1] / "fixtures/github-webhooks/pull_request/opened.payload.json"
    )
    sent = subprocess.run(
        [*CLI, "send-test-webhook", "--url", f"{base}/webhooks/github", "--event", "pull_request",
         "--payload", str(payload), "--delivery-guid", "embedded-1"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "HTTP 202" in sent.stdout

    def status() -> str:
        r = httpx.get(
            f"{base}/webhooks/github/deliveries/embedded-1", headers={"Authorization": "Bearer tok"}
        )
        return str(r.json().get("status"))

    wait_until(lambda: status() == "processed", timeout=20, what="embedded delivery processed")
    assert (tmp_path / "data/reviewops/reviewops.db").is_file()
    ping = subprocess.run(
        [*CLI, "send-test-webhook", "--url", f"{base}/webhooks/github"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ping.returncode == 0 and "HTTP 202" in ping.stdout


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [*CLI, "--help"], capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"}
    ).stdout
    for command in ("serve", "api", "worker", "migrate", "send-test-webhook"):
        assert f" {command} " in out, command


def test_bad_configuration_names_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "REVIEWOPS_REDIS_URL": "http://nope"}
    result = subprocess.run([*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "REVIEWOPS_REDIS_URL" in result.stderr


def test_migrate_on_a_fresh_machine_creates_the_embedded_database(tmp_path: Path) -> None:
    """`reviewops migrate` before anything else ran: the data folder did not exist (it failed before)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    migrated = subprocess.run([*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    assert "database schema is up to date" in migrated.stdout
    assert (tmp_path / "data/reviewops/reviewops.db").is_file()


def test_serve_picks_up_what_a_previous_run_left_in_flight(tmp_path: Path) -> None:
    """A delivery stored as `queued` by a run that died: the next `serve` processes it."""
    from reviewops.db.session import Database
    from reviewops.deliveries import intake
    from tests.support.webhooks import load_payload

    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), REVIEWOPS_ADMIN_TOKEN="tok")
    migrated = subprocess.run([*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    db = Database(f"sqlite:///{tmp_path / 'data/reviewops/reviewops.db'}")
    try:
        intake.store(
            db, intake.IncomingDelivery(0, "left-1", "ping", None, load_payload("ping/payload.json"))
        )
    finally:
        db.dispose()
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, timeout=30)

        def status() -> str:
            r = httpx.get(
                f"http://127.0.0.1:{port}/webhooks/github/deliveries/left-1",
                headers={"Authorization": "Bearer tok"},
            )
            return str(r.json().get("status"))

        wait_until(lambda: status() == "processed", timeout=20, what="left-over delivery processed")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert b"re-enqueued 1 deliveries left in flight by the previous run" in out


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    return env


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--port", "99999"], "--port"),  # served on 34463 before issue 18
        (["--port", "0"], "--port"),  # served on 8000
        (["--port", "-1"], "--port"),
        (["--host", "no such host!", "--port", "8123"], "--host"),  # failed after the banner
    ],
)
def test_serve_refuses_a_bad_address_before_anything_starts(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    result = subprocess.run(
        [*CLI, "serve", *args], env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert complaint in result.stderr
    assert "serving" not in result.stdout
    assert not (tmp_path / "data/reviewops/reviewops.db").exists()  # nothing migrated


def test_serve_with_its_port_taken_fails_clearly_and_starts_nothing(tmp_path: Path) -> None:
    """Before issue 18 it announced "serving", migrated, re-queued and started a worker, then died."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CLI, "serve", "--port", str(port)],
            env=_clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    assert "serving" not in result.stdout
    assert not (tmp_path / "data/reviewops/reviewops.db").exists()


def test_serve_says_how_to_see_a_delivery_and_logs_each_outcome(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        sent = subprocess.run(
            [*CLI, "send-test-webhook", "--url", f"http://127.0.0.1:{port}/webhooks/github", "--delivery-guid",
             "newcomer-1"], env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "HTTP 202" in sent.stdout, sent.stdout + sent.stderr

        def shown() -> str:
            out = subprocess.run([*CLI, "deliveries", "show", "newcomer-1"], env=env, capture_output=True,
                                 text=True, timeout=30)  # fmt: skip
            return out.stdout

        wait_until(lambda: "processed" in shown(), timeout=20, what="the delivery shown as processed")
        assert "delivery newcomer-1 (ping): processed, 1 attempt(s)" in shown()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    text = out.decode()
    assert "reviewops deliveries show GUID" in text
    assert "no GitHub App configured" in text
    assert "delivery newcomer-1 ping: processed" in text
