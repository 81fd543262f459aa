"""`reviewops operator` refuses bad configuration with exit code 2 and a message naming the option."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from reviewops.cli.main import app
from reviewops.settings import get_settings
from tests.reviewpolicy.emulator import EmulatorThread
from tests.support.servers import free_port, wait_for_port


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


def _operator_process(redis_url: str, port: int) -> subprocess.Popen[bytes]:
    """`reviewops operator` as a real process against the emulator (KUBECONFIG), output on its stdout."""
    env = os.environ | {
        "REVIEWOPS_REDIS_URL": redis_url,
        "REVIEWOPS_OPERATOR_METRICS_PORT": str(port),
        "KUBECONFIG": os.environ["KUBECONFIG"],
    }
    return subprocess.Popen(
        [sys.executable, "-m", "reviewops", "operator"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_operator_command_serves_health_and_stops_on_sigterm(cluster: EmulatorThread, redis_url: str) -> None:
    """`reviewops operator` as a real process against the emulator: /healthz answers, SIGTERM stops it."""
    port = free_port()
    proc = _operator_process(redis_url, port)
    try:
        wait_for_port(port, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {
            "status": "healthy",
            "service": "reviewops-operator",
        }
        assert "reviewops_operator_reconcile_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, output
        assert "watching all namespaces" in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_metrics_port_in_use_stops_the_operator_naming_it(cluster: EmulatorThread, redis_url: str) -> None:
    """A port another process holds never frees itself: the operator exits with the reason (the pod restarts
    and its log says why) instead of retrying its start-up with no metrics, no probe and no reconciling."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    proc = _operator_process(redis_url, port)
    try:
        output = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode != 0, output
        assert "REVIEWOPS_OPERATOR_METRICS_PORT: cannot listen on " in output, output
        assert f":{port}: " in output and "address already in use" in output.lower(), output
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
