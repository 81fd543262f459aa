"""Throw-away PostgreSQL and Redis servers for one test run (pytest-postgresql / pytest-redis style)."""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_START = _ephemeral_start()
_random = random.SystemRandom()  # not the `random` module's state, which hypothesis seeds in its tests


def free_port() -> int:
    """A free port below the kernel's ephemeral range, picked at random.

    A port the kernel hands out for port 0 comes from the ephemeral range, which the suite's outgoing
    connections also draw their local ports from: with the suite in several processes, a server (the
    operator's metrics endpoint, seen) found its port taken by some connection between this call and its
    bind. Below that range only another `free_port` can pick the same port, and randomly among thousands."""
    low, high = 10_000, min(_EPHEMERAL_START, 65_536)
    for _ in range(200 if high > low else 0):
        port = _random.randrange(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} not found; install the postgresql package")
    return path


class PostgresServer:
    """initdb + pg_ctl on a free port, as the `postgres` user when run as root; can be stopped and started.

    Tests run with `fsync=off` (nothing to keep after the run, and much faster); `durable=True` keeps
    `fsync` and `synchronous_commit` on as in production, for the benchmarks (issue 20, fair baselines)."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.as_root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        self.base = Path(tempfile.mkdtemp(prefix="reviewops-pg-"))
        self.data = self.base / "data"
        if self.as_root:
            shutil.chown(self.base, "postgres")
        self.port = free_port()
        subprocess.run(
            [*self.prefix, _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        durability = "-c fsync=on -c synchronous_commit=on" if self.durable else "-c fsync=off"
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} {durability} -c max_connections=200"
        )
        subprocess.run(
            [*self.prefix, _pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.base / "log"), "-o", opts,
             "start"],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[str]:
    """A running PostgreSQL for the duration; yields a SQLAlchemy URL of database `postgres`."""
    server = PostgresServer(durable)
    server.start()
    try:
        yield server.url
    finally:
        server.close()


class RedisServer:
    """A redis-server child process (not --daemonize, which leaves zombies); can be stopped and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = tempfile.mkdtemp(prefix="reviewops-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class BackloggedServer(ThreadingHTTPServer):
    """The local HTTP servers' base (fake GitHub, fake OpenAI). socketserver listens with a backlog of 5:
    a hundred clients connecting at once (the review benchmark's 100 reviews in flight) saw reset
    connections, which no real API gives."""

    request_queue_size = 1024
    daemon_threads = True
