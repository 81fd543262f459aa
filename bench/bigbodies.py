"""Peak memory of one API process under 16 concurrent 25 MiB webhook requests (issue 18's "memory before trust").

`python -m bench.bigbodies` starts throw-away PostgreSQL and Redis, runs `reviewops api` (one process, the
server options it uses in production: bounded request heads, the byte budget on bodies) and, in a fresh
server per scenario, sends 16 concurrent 25 MiB requests: unsigned (refused before the body is read),
then signed (read, verified while streaming and stored, at most REVIEWOPS_WEBHOOK_BODY_BUDGET_BYTES at once),
then 8 concurrent 2 MB request heads. Reports the process's resident memory before and its peak (VmHWM).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.common import environment
from reviewops.signatures import sign
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
MiB = 1024 * 1024
CONCURRENT = 16


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def send(port: int, head: bytes, body: bytes) -> int:
    """Send one request over a raw socket; the status answered (0 if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
            view = memoryview(body)
            for start in range(0, len(body), MiB):
                sock.sendall(view[start : start + MiB])
        try:
            answer = sock.recv(4096)
            if os.environ.get("BENCH_VERBOSE"):
                print(answer[-300:], file=sys.stderr)
        except (ConnectionResetError, TimeoutError):
            return 0
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def head(headers: dict[str, str], length: int) -> bytes:
    lines = [
        "POST /webhooks/github HTTP/1.1",
        "Host: bench",
        f"Content-Length: {length}",
        "Content-Type: application/json",
    ]
    return ("\r\n".join(lines + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n").encode()


def body_25_mib() -> bytes:
    return b'{"zen": "' + b"x" * (25 * MiB - 11) + b'"}'


def unsigned(port: int, body: bytes) -> int:
    return send(
        port, head({"X-GitHub-Event": "ping", "X-GitHub-Delivery": str(uuid.uuid4())}, len(body)), body
    )


def signed(port: int, body: bytes) -> int:
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    return send(port, head(headers, len(body)), body)


def huge_header(port: int, _body: bytes) -> int:
    return send(port, head({"X-GitHub-Event": "ping", "X-Padding": "a" * (2 * MiB)}, 2), b"{}")


def scenario(
    database_url: str, redis_url: str, name: str, request: Callable[[int, bytes], int], count: int
) -> str:
    port = free_port()
    env = {**os.environ, "REVIEWOPS_DATABASE_URL": database_url, "REVIEWOPS_REDIS_URL": redis_url,
           "REVIEWOPS_WEBHOOK_SECRETS": SECRET, "REVIEWOPS_LOG_LEVEL": "WARNING",
           "REVIEWOPS_PORT": str(port)}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "reviewops", "api"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        time.sleep(1)
        before = memory(server.pid)["VmRSS"]
        body = body_25_mib()
        statuses: list[int] = []
        threads = [
            threading.Thread(target=lambda: statuses.append(request(port, body))) for _ in range(count)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        peak = memory(server.pid)["VmHWM"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    answered = ", ".join(f"{statuses.count(s)}x{s}" for s in sorted(set(statuses)))
    return f"| {name} | {count} | {answered} | {before} | {peak} | {peak - before} | {seconds:.1f} |"


def main() -> None:
    print("| scenario | requests | answers | RSS before (MiB) | peak RSS (MiB) | growth (MiB) | seconds |")
    print("|---|---|---|---|---|---|---|")
    with environment(quick=False) as env:
        for name, request, count in (
            ("unsigned 25 MiB bodies", unsigned, CONCURRENT),
            ("signed 25 MiB bodies (stored)", signed, CONCURRENT),
            ("2 MB request heads", huge_header, 8),
        ):
            print(scenario(env.database_url, env.redis_url, name, request, count), flush=True)


if __name__ == "__main__":
    main()
