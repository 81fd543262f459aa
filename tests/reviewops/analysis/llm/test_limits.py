"""The context window (setting, /v1/models, the endpoint's own words), the answer size from the schema, parts."""

from __future__ import annotations

from reviewops.analysis.llm.forms import answer_tokens
from reviewops.analysis.llm.limits import (
    DEFAULT_CONTEXT_TOKENS,
    context_error,
    context_tokens,
    estimate_tokens,
)
from reviewops.analysis.llm.packing import file_pieces, plan, split_part
from reviewops.analysis.llm.reviewer import LLMReview
from reviewops.analysis.model import RepoConfig
from tests.reviewops.analysis.helpers import modified_file, new_file
from tests.support.fake_openai import FakeOpenAI


def test_context_from_setting_then_models_endpoint_then_default(fake_openai: FakeOpenAI) -> None:
    key = (fake_openai.url, "reviewer-1")
    assert context_tokens(4096, key, None, 2.0) == 4096
    fake_openai.max_model_len = 32768  # vLLM reports it in /v1/models
    assert context_tokens(None, key, None, 2.0) == 32768
    other = (fake_openai.url, "another-model")  # not listed: the safe default
    assert context_tokens(None, other, None, 2.0) == DEFAULT_CONTEXT_TOKENS


def test_context_errors_of_openai_vllm_and_llama_cpp() -> None:
    openai_style = {"error": {"code": "context_length_exceeded", "message": "This model's maximum context "
                              "length is 8192 tokens. However, you requested 20081 tokens (20000 in the "
                              "messages, 81 in the completion)."}}  # fmt: skip
    found = context_error(openai_style, "")
    assert found is not None and (found.limit, found.requested) == (8192, 20081)
    assert found.describe() == "context length exceeded: 20,081 of 8,192 tokens"
    llama_server = {"error": {"type": "exceed_context_size_error", "message": "the request exceeds the "
                              "available context size", "n_prompt_tokens": 9000, "n_ctx": 4096}}  # fmt: skip
    found = context_error(llama_server, "")
    assert found is not None and (found.limit, found.requested) == (4096, 9000)
    assert context_error({"error": {"message": "model not found"}}, "") is None


def test_max_tokens_is_what_the_schema_needs_at_most_the_cap() -> None:
    schema = LLMReview.model_json_schema()
    needed = answer_tokens(schema, cap=100_000)
    # Four findings of bounded strings and a summary: more than a summary alone, far less than a context.
    assert 800 < needed < 3000
    assert answer_tokens(schema, cap=500) == 500


def test_a_large_file_is_split_by_hunk_and_inside_a_long_hunk() -> None:
    before = [f"line {i}" for i in range(600)]
    after = list(before)
    for i in (10, 300, 590):  # three separate hunks
        after[i] = f"changed line {i} = compute({i})"
    spread = modified_file("pkg/spread.py", before, after)
    long_hunk = new_file("pkg/long.py", [f"value_{i} = compute({i})" for i in range(500)])
    budget = 400
    pieces = file_pieces(spread, RepoConfig(), 60)
    assert len(pieces) >= 2 and all("### pkg/spread.py (modified)" in p for p in pieces)
    long_pieces = file_pieces(long_hunk, RepoConfig(), budget)
    assert len(long_pieces) > 5
    assert all(estimate_tokens(p) <= budget + 20 for p in long_pieces)
    text = "\n".join(long_pieces)
    assert all(f"value_{i} = compute({i})" in text for i in range(500))  # nothing left out


def test_plan_fills_parts_and_names_what_is_beyond_the_most_parts() -> None:
    files = [new_file(f"pkg/m{i}.py", [f"x_{i}_{j} = {j}" for j in range(60)]) for i in range(6)]
    full = plan(files, RepoConfig(), budget=600, max_parts=100)
    assert len(full.parts) >= 3 and not full.left_out
    assert all(p.tokens <= 600 for p in full.parts)
    capped = plan(files, RepoConfig(), budget=600, max_parts=2)
    assert len(capped.parts) == 2 and capped.left_out
    reviewed = {path for part in capped.parts for path in part.paths}
    assert reviewed.isdisjoint(set(capped.left_out) - reviewed)


def test_a_part_too_long_for_the_endpoint_splits_without_losing_lines() -> None:
    part = plan([new_file("a.py", [f"a_{i} = {i}" for i in range(300)])], RepoConfig(), 10_000, 1).parts[0]
    smaller = split_part(part, 300)
    assert len(smaller) >= 3 and all(p.paths == ["a.py"] for p in smaller)
    text = "\n".join(t for p in smaller for t in p.rendered)
    assert all(f"a_{i} = {i}" in text for i in range(300))
