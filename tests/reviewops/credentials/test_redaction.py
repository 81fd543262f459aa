"""The redaction gate: property tests over generated credential shapes, PEM blocks, and the suggestion
rule (a suggestion whose line needed redaction is dropped)."""

from __future__ import annotations

import base64
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewops.analysis.analyzers.python_lint import PythonLintAnalyzer
from reviewops.analysis.engine import run_review
from reviewops.analysis.output import to_json, to_text
from reviewops.credentials.redaction import redact_lines, redact_text
from tests.reviewops.analysis.helpers import context, new_file
from tests.support.secrets_corpus import GENERATORS

SHAPES = sorted(set(GENERATORS) - {"twilio_sid"})  # a Twilio account SID is an identifier, not a secret
# How code, config and prose carry a credential: assignments, f-strings, headers, URLs, CLI flags, JSON.
CARRIERS = [
    'API_KEY = "{v}"', "token: {v}", 'url = f"https://api.example.com/v1?key={v}"', "export SECRET={v}",
    '{{"client_secret": "{v}"}}', 'headers["Authorization"] = "Bearer {v}"', "password={v}",
    "curl -H 'x-api-key: {v}' https://api", "    auth_token = '{v}'  # prod", "access_key => \"{v}\"",
]  # fmt: skip


def _pieces(value: str) -> list[str]:
    parts = [p for p in value.replace("\\n", "\n").split("\n") if p and not p.startswith("-----")]
    return [p[i : i + 12] for p in parts for i in range(0, max(1, len(p) - 11), 6)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(SHAPES),
    carrier=st.sampled_from(CARRIERS),
    seed=st.integers(0, 2**32),
    before=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30),
)
def test_no_generated_credential_survives_the_gate(shape: str, carrier: str, seed: int, before: str) -> None:
    value = GENERATORS[shape](random.Random(seed))
    if "\n" in value or "-----BEGIN" in value:
        carrier = "{v}"  # a key block is its own carrier
    line = before + " " + carrier.format(v=value)
    out = redact_text(line)
    assert not [p for p in _pieces(value) if p in out], (shape, out)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), label=st.sampled_from(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                                                         "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]))  # fmt: skip
def test_pem_blocks_go_whole_multi_line_and_escaped(seed: int, label: str) -> None:
    body = base64.b64encode(random.Random(seed).randbytes(400)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    block = [f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]
    rendered = [f"{n:>5} + {t}" for n, t in enumerate(["key = '''", *block, "'''"], 1)]  # as in a prompt
    escaped = '{"private_key": "' + "\\n".join(block) + '\\n"}'
    for out in ("\n".join(redact_lines(block)), "\n".join(redact_lines(rendered)), redact_text(escaped)):
        assert not any(line in out for line in lines)
    assert len(redact_lines(rendered)) == len(rendered)  # line-for-line: the prompt keeps its numbering


def test_a_header_constant_without_a_body_is_left_alone() -> None:
    code = [
        'HEADER = "-----BEGIN RSA PRIVATE KEY-----"',
        "if text.startswith(HEADER):",
        "    return parse(text)",
    ]
    assert redact_lines(code) == code


def test_everyday_code_is_not_redacted() -> None:
    code = [
        "def handle(request):", "    user = request.user", "    password = form.cleaned_data['password']",
        '    url = "https://example.com/api/v1/users"', "    digest = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b'",
    ]  # fmt: skip
    assert redact_lines(code) == code


def test_ruff_fix_suggestion_for_a_line_with_a_credential_is_dropped() -> None:
    # Before issue 16: F541's fix (the whole line) printed a credential the detector did not report.
    line = 'DB_PASSWORD = f"CorrectHorseBatteryStaple"'
    ctx = context(new_file("app/db.py", [line]))
    result = run_review(ctx, [PythonLintAnalyzer()])
    (f541,) = [f for f in result.findings if f.rule_id == "ruff/F541"]
    assert f541.suggestion is None
    assert "CorrectHorseBatteryStaple" not in to_json(result) + to_text(result)


def test_ruff_fix_suggestion_on_a_clean_line_is_kept() -> None:
    ctx = context(new_file("app/greet.py", ['GREETING = f"hello"']))
    (f541,) = [f for f in run_review(ctx, [PythonLintAnalyzer()]).findings if f.rule_id == "ruff/F541"]
    assert f541.suggestion == 'GREETING = "hello"'
