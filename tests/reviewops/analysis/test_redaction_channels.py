"""Each outgoing channel, fed the planted corpus, carries no planted value: the CLI's text/JSON/SARIF,
log lines, and the LLM request as a local OpenAI-compatible server records it. (GitHub comments and
stored findings rows: tests/worker/test_secrets_pipeline.py.)"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.llm.reviewer import LLMAnalyzer
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext
from reviewops.cli.main import app
from reviewops.telemetry.logging import configure_logging
from tests.support.fake_openai import FakeOpenAI
from tests.support.secrets_corpus import Case, cases, leaked

CORPUS = cases(4242)


def _leaks(text: str, corpus: list[Case] = CORPUS) -> dict[str, list[str]]:
    return {c.id: leaked(text, c) for c in corpus if leaked(text, c)}


@pytest.mark.parametrize("fmt", ["json", "text", "sarif"])
def test_cli_output_carries_no_planted_value(tmp_path: Path, fmt: str) -> None:
    diff = tmp_path / "corpus.diff"
    diff.write_text("".join(c.diff() for c in CORPUS))
    result = CliRunner().invoke(
        app, ["review", "--diff", str(diff), "--repo", str(tmp_path), "--format", fmt,
              "--analyzers", "secrets,hygiene,python-lint"],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    assert "secrets/" in result.output  # it did report the credentials ...
    assert _leaks(result.output) == {}  # ... without printing any of them
    if fmt != "text":
        json.loads(result.stdout)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", json_output=True, stream=stream)
    yield stream
    structlog.contextvars.clear_contextvars()
    configure_logging("INFO")


def test_log_lines_carry_no_planted_value(captured: io.StringIO) -> None:
    log = logging.getLogger("reviewops.test")
    for case in CORPUS:
        text = "\n".join([*case.added, *case.removed, *case.context])
        log.info("file %s: %s", case.path, text)
        log.warning("failed", extra={"payload": {"line": text}})
        structlog.get_logger("reviewops.test").info("patch", patch=text, path=case.path)
    assert _leaks(captured.getvalue()) == {}
    assert len(captured.getvalue().splitlines()) >= 3 * len(CORPUS)


def test_llm_request_carries_no_planted_value(fake_openai: FakeOpenAI) -> None:
    settings = LLMSettings(base_url=fake_openai.url, api_key="sk-test", model="m", timeout_seconds=5.0,
                           max_retries=0, max_input_tokens=200_000)  # fmt: skip
    files = parse_unified_diff("".join(c.diff() for c in CORPUS))
    body = "\n".join(c.added[0] for c in CORPUS[:10])  # credentials pasted into the PR description too
    ctx = AnalysisContext(files=files, title="Add config", body=body)
    LLMAnalyzer(settings).analyze(ctx)
    assert fake_openai.requests, ctx.notes
    prompts = "\n".join(r.prompt for r in fake_openai.requests)
    assert "credentials.ini" in prompts  # the files were really sent ...
    assert _leaks(prompts) == {}  # ... with every planted value redacted
