"""The LLM reviewer against a real HTTP fake of the OpenAI API: good answers, garbage, timeouts, 500s."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY as PROM

from reviewops.analysis.analyzers.qa import QAChecklistAnalyzer
from reviewops.analysis.llm.reviewer import LLMAnalyzer
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import Severity
from tests.reviewops.analysis.helpers import context, new_file
from tests.support.fake_openai import ALL_FORMS, FakeOpenAI, answer_form

SECRET = "ghp_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9"


def _settings(server: FakeOpenAI, **kw: object) -> LLMSettings:
    values: dict[str, object] = {
        "base_url": server.url,
        "api_key": "sk-test",
        "model": "reviewer-1",
        "timeout_seconds": 2.0,
        "max_retries": 0,
        "backoff_seconds": 0.01,
    }
    values.update(kw)
    return LLMSettings(**values)  # type: ignore[arg-type]


def _files() -> list:  # type: ignore[type-arg]
    return [
        new_file("app/handlers.py", ["def handle(req):", "    return eval(req.body)", ""]),
        new_file("README.md", ["# Title", "Some docs"]),
    ]


def _metric(name: str, labels: dict[str, str]) -> float:
    return PROM.get_sample_value(name, labels) or 0.0


def test_good_answer_becomes_findings(fake_openai: FakeOpenAI) -> None:
    fake_openai.findings = [
        {
            "path": "app/handlers.py",
            "line": 2,
            "severity": "error",
            "category": "security",
            "message": "eval() on request input is remote code execution.",
            "suggestion": "    return json.loads(req.body)",
        },
        {"path": "app/handlers.py", "line": 40, "severity": "warning", "message": "outside the diff"},
        {"path": "nowhere.py", "line": 1, "message": "not a file of this PR"},
    ]
    ok_before = _metric("reviewops_llm_requests_total", {"outcome": "ok"})
    ctx = context(*_files())
    findings = LLMAnalyzer(_settings(fake_openai)).analyze(ctx)
    assert len(findings) == 1
    (finding,) = findings
    assert (finding.path, finding.start_line, finding.severity) == ("app/handlers.py", 2, Severity.ERROR)
    assert finding.rule_id == "llm/security" and finding.analyzer == "llm"
    assert finding.suggestion == "    return json.loads(req.body)"
    assert finding.line_content == "    return eval(req.body)"
    assert "LLM review: dropped 2 comments outside the diff." in ctx.notes
    assert ctx.usage.prompt_tokens == 100 and ctx.usage.completion_tokens == 20
    assert ctx.llm_summary == "Looks reasonable."
    assert _metric("reviewops_llm_requests_total", {"outcome": "ok"}) == ok_before + 1
    (request,) = fake_openai.requests
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "reviewer-1"
    # The answer's schema goes with the request (OpenAI's structured-outputs form first), and the answer
    # is bounded by what that schema needs.
    form = request.body["response_format"]
    assert form["type"] == "json_schema" and form["json_schema"]["schema"]["title"] == "LLMReview"
    assert 64 <= request.body["max_tokens"] <= 1536
    assert "    2 +     return eval(req.body)" in request.prompt  # new-side line numbers for the model


def test_prompt_carries_prior_findings_instructions_and_no_secrets(fake_openai: FakeOpenAI) -> None:
    from reviewops.analysis.config import parse_repo_config
    from reviewops.analysis.model import Finding

    config = parse_repo_config("instructions: {'app/**': 'Handlers must validate input.'}")
    files = [new_file("app/handlers.py", ["def handle(req):", f'    token = "{SECRET}"'])]
    ctx = context(*files, config=config, body=f"Adds a handler. Token for testing: {SECRET}")
    ctx.prior_findings = [
        Finding(
            "secrets",
            "secrets/github-token",
            "app/handlers.py",
            2,
            2,
            Severity.ERROR,
            "Possible GitHub Token added here.",
        )
    ]
    LLMAnalyzer(_settings(fake_openai)).analyze(ctx)
    prompt = fake_openai.requests[0].prompt
    assert "app/handlers.py:2 [secrets/github-token]" in prompt
    assert "Handlers must validate input." in prompt
    assert SECRET not in prompt and "[REDACTED]" in prompt


def test_garbage_answer_skips_with_a_note(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "garbage"
    before = _metric("reviewops_llm_requests_total", {"outcome": "invalid"})
    ctx = context(*_files())
    reasked_before = _metric("reviewops_llm_answers_total", {"model": "reviewer-1", "outcome": "invalid"})
    assert LLMAnalyzer(_settings(fake_openai, max_retries=2)).analyze(ctx) == []
    first, second = fake_openai.requests  # asked again once, with what was wrong; not retried further
    assert "That answer was not valid: answer is not the expected JSON: not JSON" in second.prompt
    assert first.body["messages"] == second.body["messages"][: len(first.body["messages"])]
    assert any(n.startswith("LLM review skipped: invalid answer after a re-ask (") for n in ctx.notes)
    assert _metric("reviewops_llm_requests_total", {"outcome": "invalid"}) == before + 2
    after = _metric("reviewops_llm_answers_total", {"model": "reviewer-1", "outcome": "invalid"})
    assert after == reasked_before + 1


def test_server_error_retries_then_succeeds(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["error", "error"]
    fake_openai.findings = [{"path": "app/handlers.py", "line": 1, "message": "ok now"}]
    before = _metric("reviewops_llm_requests_total", {"outcome": "error"})
    ctx = context(*_files())
    findings = LLMAnalyzer(_settings(fake_openai, max_retries=2, answer_form="json_object")).analyze(ctx)
    assert [f.message for f in findings] == ["ok now"]
    assert len(fake_openai.requests) == 3
    assert _metric("reviewops_llm_requests_total", {"outcome": "error"}) == before + 2
    assert not any("skipped" in n for n in ctx.notes)


def test_server_error_exhausts_retries(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "error"
    ctx = context(*_files())
    assert LLMAnalyzer(_settings(fake_openai, max_retries=2, answer_form="json_object")).analyze(ctx) == []
    assert len(fake_openai.requests) == 3
    assert "LLM review skipped: HTTP 500 from the LLM endpoint: internal error" in ctx.notes


def test_timeout_skips_with_a_note(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "slow"
    before = _metric("reviewops_llm_requests_total", {"outcome": "timeout"})
    ctx = context(*_files())
    assert LLMAnalyzer(_settings(fake_openai, timeout_seconds=0.3, max_retries=2)).analyze(ctx) == []
    assert len(fake_openai.requests) == 1  # a timed-out prompt is not resent unchanged
    assert "LLM review skipped: timed out after 0.3s (not resent)" in ctx.notes
    assert _metric("reviewops_llm_requests_total", {"outcome": "timeout"}) == before + 1


def test_unreachable_endpoint() -> None:
    from tests.support.servers import free_port

    settings = LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=0)
    ctx = context(*_files())
    assert LLMAnalyzer(settings).analyze(ctx) == []
    assert "LLM review skipped: could not connect to the LLM endpoint" in ctx.notes


def test_a_diff_over_one_prompt_is_reviewed_in_parts(fake_openai: FakeOpenAI) -> None:
    big = new_file("core/engine.py", [f"value_{i} = compute({i})" for i in range(400)])
    small = new_file("core/util.py", ["def helper():", "    return 1"])
    docs = new_file("docs/guide.md", ["Some words"] * 5)
    ctx = context(big, small, docs)
    LLMAnalyzer(_settings(fake_openai, max_input_tokens=2500, max_concurrency=3)).analyze(ctx)
    prompts = [r.prompt for r in fake_openai.requests]
    assert len(prompts) >= 3
    # Every line of every file went to the model, the big file in pieces; nothing is named as left out.
    shown = "\n".join(prompts)
    assert all(f"value_{i} = compute({i})" in shown for i in range(400))
    assert "### core/util.py" in shown and "### docs/guide.md" in shown
    assert sum("### core/engine.py" in p for p in prompts) >= 2
    assert not any(n.startswith("Not reviewed") for n in ctx.notes)
    assert any(n.startswith("LLM review: the diff was larger than one prompt") and
               f"reviewed in {len(prompts)} parts" in n for n in ctx.notes)  # fmt: skip
    # The tenant's token budget counts every part.
    assert ctx.usage.prompt_tokens == 100 * len(prompts)


def test_the_parts_of_a_large_diff_are_asked_in_one_round_by_default(fake_openai: FakeOpenAI) -> None:
    """The author waits rounds x the model's latency: five parts at the default concurrency are one round
    once the endpoint's answer form is known (the first part of a new endpoint finds it alone)."""
    fake_openai.mode, fake_openai.slow_seconds = "slow", 3.0
    files = [
        new_file(f"pkg/mod_{n}.py", [f"value_{n}_{i} = compute({i})" for i in range(60)]) for n in range(5)
    ]
    settings = _settings(fake_openai, max_input_tokens=1500, timeout_seconds=10.0)
    assert settings.max_concurrency == LLMSettings().max_concurrency
    LLMAnalyzer(settings).analyze(context(*files))
    first = sorted(r.at for r in fake_openai.requests)
    assert len(first) == 5
    # The four parts that waited for the form were then sent together, not one after another (they were,
    # each holding the probe lock in turn, before the fix).
    assert first[-1] - first[1] < 2.5, first
    fake_openai.requests.clear()
    LLMAnalyzer(settings).analyze(context(*files))
    again = sorted(r.at for r in fake_openai.requests)
    # Every part was sent before the first answer could have come back (each takes 3 s).
    assert len(again) == 5 and again[-1] - again[0] < 2.5, again


def test_files_ranked_by_risk(fake_openai: FakeOpenAI) -> None:
    ctx = context(
        new_file("docs/a.md", ["x"] * 30),
        new_file("src/auth.py", ["y = 1"] * 10),
        new_file("src/plain.py", ["z = 1"] * 10),
    )
    LLMAnalyzer(_settings(fake_openai)).analyze(ctx)
    prompt = fake_openai.requests[0].prompt
    assert prompt.index("### src/auth.py") < prompt.index("### src/plain.py") < prompt.index("### docs/a.md")


def test_not_allowed_and_not_configured() -> None:
    ctx = context(*_files(), llm_allowed=False)
    ctx.llm_skip_reason = "daily token budget spent"
    assert LLMAnalyzer(LLMSettings(mock=True)).analyze(ctx) == []
    assert ctx.notes == ["LLM review skipped: daily token budget spent"]
    ctx2 = context(*_files())
    assert LLMAnalyzer(LLMSettings()).analyze(ctx2) == []
    assert ctx2.notes[0].startswith("LLM review skipped: no LLM configured")


def test_mock_mode_is_deterministic_and_sends_nothing(fake_openai: FakeOpenAI) -> None:
    settings = LLMSettings(mock=True, base_url=fake_openai.url, model="m")
    runs = []
    for _ in range(2):
        ctx = context(*_files())
        runs.append((LLMAnalyzer(settings).analyze(ctx), ctx.usage.prompt_tokens, ctx.llm_summary))
    assert runs[0] == runs[1]
    findings = runs[0][0]
    assert [(f.path, f.start_line) for f in findings] == [("app/handlers.py", 1), ("README.md", 1)]
    assert all(f.message.startswith("[mock LLM]") and f.severity is Severity.INFO for f in findings)
    assert runs[0][1] > 0
    assert fake_openai.requests == []


def test_fenced_json_is_accepted(fake_openai: FakeOpenAI) -> None:
    from reviewops.analysis.llm.client import parse_answer
    from reviewops.analysis.llm.reviewer import LLMReview

    answer = parse_answer('```json\n{"findings": [], "summary": "fine"}\n```', LLMReview)
    assert answer.summary == "fine"
    with pytest.raises(ValueError, match="not the expected JSON"):
        parse_answer(json.dumps({"no_findings_key": 1}), LLMReview)


def test_qa_checklist_from_llm_and_fallback(fake_openai: FakeOpenAI) -> None:
    ctx = context(*_files(), body="Fixes #12")
    QAChecklistAnalyzer(_settings(fake_openai)).analyze(ctx)
    assert ctx.qa_checklist == ["Try the happy path", "Try an invalid input"]
    assert ctx.qa_checklist_source == "llm"
    fake_openai.mode = "garbage"
    ctx2 = context(*_files(), body="Fixes #12\n- [ ] works on Safari")
    QAChecklistAnalyzer(_settings(fake_openai)).analyze(ctx2)
    checklist = ctx2.qa_checklist
    assert ctx2.qa_checklist_source == "heuristic"
    assert "From the description: works on Safari" in checklist
    assert "Reproduce the problem of #12 and confirm this change fixes it." in checklist
    assert checklist[-1] == "Run the full test suite and check CI is green."


def test_backoff_doubles_between_attempts(fake_openai: FakeOpenAI) -> None:
    from reviewops.analysis.llm.client import LLMSkipped, chat_json
    from reviewops.analysis.llm.reviewer import LLMReview
    from reviewops.analysis.model import LLMUsage

    fake_openai.mode = "error"
    waits: list[float] = []
    settings = _settings(fake_openai, max_retries=3, backoff_seconds=0.5, answer_form="json_object")
    with pytest.raises(LLMSkipped, match="HTTP 500"):
        chat_json(settings, [{"role": "user", "content": "hi"}], LLMReview, LLMUsage(), sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]
    assert len(fake_openai.requests) == 4


def test_client_errors_are_not_retried(fake_openai: FakeOpenAI) -> None:
    # A wrong path answers 404: retrying cannot help.
    settings = _settings(fake_openai, base_url=fake_openai.url + "/wrong", max_retries=3)
    ctx = context(*_files())
    assert LLMAnalyzer(settings).analyze(ctx) == []
    assert len(fake_openai.requests) == 1
    assert any(
        n.startswith("LLM review skipped: HTTP 404 from the LLM endpoint: no route") for n in ctx.notes
    )


def test_server_without_json_mode(fake_openai: FakeOpenAI) -> None:
    fake_openai.json_mode = False
    fake_openai.findings = [{"path": "app/handlers.py", "line": 2, "message": "eval is dangerous"}]
    ctx = context(*_files())
    findings = LLMAnalyzer(_settings(fake_openai, max_retries=0)).analyze(ctx)
    assert [f.message for f in findings] == ["eval is dangerous"]
    assert [answer_form(r.body) for r in fake_openai.requests] == list(ALL_FORMS)
    # Learnt once: the next review asks in the plain form straight away.
    LLMAnalyzer(_settings(fake_openai, max_retries=0)).analyze(context(*_files()))
    assert answer_form(fake_openai.requests[-1].body) == "plain" and len(fake_openai.requests) == 5


def test_context_length_exceeded_is_split_at_once_and_said(fake_openai: FakeOpenAI) -> None:
    # The setting claims a window the endpoint does not have: its 400 names the real one.
    fake_openai.context_tokens = 2000
    big = new_file("core/engine.py", [f"value_{i} = compute({i})  # step {i}" for i in range(300)])
    ctx = context(big)
    settings = _settings(fake_openai, context_tokens=32000, max_answer_tokens=200, max_concurrency=3)
    LLMAnalyzer(settings).analyze(ctx)
    _too_long, *parts = fake_openai.requests
    assert len(parts) >= 3
    answered = "\n".join(r.prompt for r in parts)
    assert all(f"value_{i} = compute({i})" in answered for i in range(300))
    (note,) = [n for n in ctx.notes if n.startswith("LLM review: context length exceeded")]
    assert f" of 2,000 tokens; reviewed in {len(parts)} parts." in note
    assert not any(n.startswith(("Not reviewed", "LLM review skipped")) for n in ctx.notes)
    # Learnt: the next review plans for 2,000 tokens and sends no prompt that is too long.
    fake_openai.requests.clear()
    LLMAnalyzer(settings).analyze(context(big))
    assert len(fake_openai.requests) == len(parts)


def test_parts_that_fail_are_named_with_the_reason(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["good", "error"]
    files = [new_file(f"pkg/m{i}.py", [f"x_{i}_{j} = {j}" for j in range(120)]) for i in range(2)]
    ctx = context(*files)
    settings = _settings(fake_openai, max_input_tokens=2000, max_concurrency=1, answer_form="json_object")
    LLMAnalyzer(settings).analyze(ctx)
    failed = [n for n in ctx.notes if n.startswith("Not reviewed by the LLM (HTTP 500 from the LLM endpoint")]
    assert len(failed) == 1 and "pkg/m" in failed[0]
