"""Fixtures for the operator tests: the Kubernetes emulator, and the real kopf operator running against it."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.reviewpolicy.emulator import Api, EmulatorThread
from tests.support.servers import free_port

# The `kubernetes` package reads $KUBECONFIG when first imported, and kopf logs in through it: point it
# at a file of our own before anything imports it; the file is written once the emulator has a port.
KUBECONFIG = Path(tempfile.mkdtemp(prefix="reviewops-kube-")) / "kubeconfig"
os.environ["KUBECONFIG"] = str(KUBECONFIG)
if "kubernetes.config.kube_config" in sys.modules:
    # Imported earlier in this run (other tests import the operator package): it kept the old default.
    sys.modules["kubernetes.config.kube_config"].KUBE_CONFIG_DEFAULT_LOCATION = str(KUBECONFIG)


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmulatorThread]:
    emulator = EmulatorThread()
    emulator.start()
    emulator.write_kubeconfig(KUBECONFIG)
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def api(cluster: EmulatorThread) -> Iterator[Api]:
    client = Api(cluster.url)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def operator_env(redis_url: str) -> Iterator[dict[str, str]]:
    """The operator's process environment (restored afterwards), on a Redis emptied of earlier tests' queues
    (a message another test parked for later would count as backlog here)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    values = {"REVIEWOPS_REDIS_URL": redis_url, "REVIEWOPS_OPERATOR_METRICS_PORT": str(free_port())}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(scope="module")
def operator(cluster: EmulatorThread, operator_env: dict[str, str]) -> Iterator[object]:
    """The real operator (`kopf run --standalone -A -m reviewpolicy`) in a thread; always stopped."""
    from kopf.testing import KopfRunner

    from reviewops.settings import get_settings

    get_settings.cache_clear()
    runner = KopfRunner(["run", "--standalone", "-A", "-m", "reviewpolicy"], timeout=30)
    with runner:
        yield runner
    assert runner.exception is None, runner.output


@pytest.fixture
def rdb(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
