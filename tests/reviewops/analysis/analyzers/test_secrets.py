"""`secrets`: credentials on added lines are errors, and the secret never appears in any output."""

from __future__ import annotations

import base64
import logging
import random

import pytest

from reviewops.analysis.analyzers.secrets import SecretsAnalyzer
from reviewops.analysis.engine import run_review
from reviewops.analysis.model import Severity
from reviewops.analysis.output import to_json, to_sarif, to_text
from tests.reviewops.analysis.helpers import context, modified_file, new_file

GH_TOKEN = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
FINE_GRAINED = (
    "github_pat_" + "11ABCDEFG0" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F2"
)
AWS_KEY = "AKIA" + "Q3EGXYZ7PLMN4RST"
PASSWORD = "correct-Horse-battery-9"
# A key body drawn at test time (a stored one would trip push protection); real bodies are long.
KEY_BODY = base64.b64encode(random.Random(7).randbytes(600)).decode()
KEY_LINES = [KEY_BODY[i : i + 64] for i in range(0, len(KEY_BODY), 64)]
SECRETS = [GH_TOKEN, FINE_GRAINED, AWS_KEY, PASSWORD, *KEY_LINES]


def _file() -> object:
    return new_file(
        "app/settings.py",
        [
            "import os",
            f'GITHUB_TOKEN = "{GH_TOKEN}"',
            f'FINE = "{FINE_GRAINED}"',
            f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"',
            f'db_password = "{PASSWORD}"',
            "PRIVATE = '''-----BEGIN RSA PRIVATE KEY-----",
            *KEY_LINES,
            "-----END RSA PRIVATE KEY-----'''",
            'password = os.environ["DB_PASSWORD"]',
            'api_key = "${API_KEY}"',
            f'TEST_TOKEN = "{GH_TOKEN[:-1]}X"  # pragma: allowlist secret',
        ],
    )


def test_each_credential_is_an_error_on_its_line() -> None:
    findings = SecretsAnalyzer().analyze(context(_file()))  # type: ignore[arg-type]
    by_line = {f.start_line: f for f in findings}
    assert sorted(by_line) == [2, 3, 4, 5, 6]  # env lookups, templates and allowlisted lines are not
    assert all(f.severity is Severity.ERROR for f in findings)
    assert by_line[2].rule_id == "secrets/github-pat"
    assert by_line[3].rule_id == "secrets/github-fine-grained-pat"
    assert "AWS" in by_line[4].message
    assert by_line[6].rule_id == "secrets/private-key"
    assert by_line[2].line_content == 'GITHUB_TOKEN = "[REDACTED]"'


def test_secret_never_echoed_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = context(_file())  # type: ignore[arg-type]
    result = run_review(ctx, [SecretsAnalyzer()])
    assert len(result.findings) == 5
    outputs = [to_text(result), to_json(result), to_sarif(result), caplog.text, repr(result)]
    for f in result.findings:
        outputs += [f.message, f.suggestion or "", f.line_content, f.fingerprint]
    blob = "\n".join(outputs)
    for secret in SECRETS:
        assert secret not in blob
        assert secret[4:20] not in blob  # not even a recognisable slice


def test_removed_and_context_lines_are_not_flagged() -> None:
    before = [f'TOKEN = "{GH_TOKEN}"', "a = 1", "b = 2"]
    after = [f'TOKEN = "{GH_TOKEN}"', "a = 1", "b = 3"]
    changed = modified_file("conf.py", before, after)
    assert SecretsAnalyzer().analyze(context(changed)) == []
    removed = modified_file("conf.py", before, ["a = 1", "b = 2"])
    assert SecretsAnalyzer().analyze(context(removed)) == []


def test_fingerprint_uses_the_redacted_line_and_survives_line_shifts() -> None:
    first = SecretsAnalyzer().analyze(context(new_file("x.py", [f'T = "{GH_TOKEN}"'])))
    shifted = SecretsAnalyzer().analyze(context(new_file("x.py", ["", "", f'T = "{GH_TOKEN}"'])))
    assert first[0].start_line == 1 and shifted[0].start_line == 3
    assert first[0].fingerprint == shifted[0].fingerprint


def test_other_analyzers_cannot_leak_a_secret_either() -> None:
    # A debug print of a token: hygiene flags the line; the engine redacts what it would echo.
    from reviewops.analysis.analyzers.hygiene import HygieneAnalyzer
    from reviewops.analysis.model import Finding

    class Echo:
        id = "echo"

        def analyze(self, ctx: object) -> list[Finding]:
            return [
                Finding(
                    "echo",
                    "echo/x",
                    "p.py",
                    1,
                    1,
                    Severity.INFO,
                    f"saw {GH_TOKEN}",
                    suggestion=f'print("{GH_TOKEN}")',
                    line_content=f'print("{GH_TOKEN}")',
                )
            ]

    result = run_review(context(new_file("p.py", [f'print("{GH_TOKEN}")'])), [HygieneAnalyzer(), Echo()])
    assert {f.rule_id for f in result.findings} == {"hygiene/debug-print", "echo/x"}
    assert GH_TOKEN not in to_json(result) and GH_TOKEN not in repr(result.findings)
    echo = next(f for f in result.findings if f.rule_id == "echo/x")
    assert echo.suggestion is None and echo.message == "saw [REDACTED]"


def test_secrets_allow_paths_values_and_fingerprints_silence_findings() -> None:
    from reviewops.analysis.config import parse_repo_config

    changed = new_file(
        "tests/vectors/urls.json", [f'"{GH_TOKEN}"', f'"{AWS_KEY}"', f'{{"db_password": "{PASSWORD}"}}']
    )
    every = SecretsAnalyzer().analyze(context(changed))
    assert len(every) == 3
    fingerprint = every[2].fingerprint
    config = parse_repo_config(
        f"secrets:\n  allow:\n    values: ['^ghp_']\n    fingerprints: [{fingerprint}]\n"
    )
    assert config.errors == ()
    left = SecretsAnalyzer().analyze(context(changed, config=config))
    assert [f.start_line for f in left] == [2]  # the token by regex, the password by fingerprint
    by_path = parse_repo_config("secrets:\n  allow:\n    paths: ['tests/vectors/*.json']\n")
    assert SecretsAnalyzer().analyze(context(changed, config=by_path)) == []


def test_secrets_allow_rejects_a_bad_regex_and_keeps_the_rest() -> None:
    from reviewops.analysis.config import parse_repo_config

    config = parse_repo_config("severity_threshold: error\nsecrets:\n  allow:\n    values: ['(']\n")
    assert config.severity_threshold is Severity.ERROR
    assert any("secrets" in e and "invalid regex" in e for e in config.errors)


def test_a_dotted_token_is_a_credential_a_dotted_name_is_not() -> None:
    token = "hvs." + base64.b64encode(random.Random(3).randbytes(24)).decode().replace("+", "a").replace(
        "/", "b"
    )
    changed = new_file("deploy/.env", [f"VAULT_TOKEN={token}", "SECRET = settings.SECRET_KEY"])
    findings = SecretsAnalyzer().analyze(context(changed))
    assert [f.start_line for f in findings] == [1]
    assert token not in repr(findings)
