"""`reviewops review` on a real git repository: text/json/sarif output, exit codes, secrets never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.support.git_repos import init_repo

CLI = [sys.executable, "-m", "reviewops", "review"]
SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-2.1.0-subset.schema.json"
TOKEN = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"

BASE_APP = "def add(a, b):\n    return a + b\n"
HEAD_APP = (
    "import os\n\n\ndef add(a, b):\n    if a == None:\n        return b\n    return a + b\n\n\n"
    f'API_TOKEN = "{TOKEN}"\n'
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    init_repo(root)
    (root / "app.py").write_text(BASE_APP)
    (root / "notes.txt").write_text("keep\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    (root / "app.py").write_text(HEAD_APP)
    (root / "debug.js").write_text("function f() {\n  debugger;\n  return 1;\n}\n")
    _git(root, "rm", "-q", "notes.txt")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "head")
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(extra)
    return env


def _review(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=repo, capture_output=True, text=True, env=_env(**env), timeout=120
    )


def test_text_output_and_exit_code(repo: Path) -> None:
    proc = _review(repo, "--git", "HEAD~1..HEAD")
    assert proc.returncode == 1, proc.stderr  # the token is an error, --fail-on defaults to error
    out = proc.stdout
    assert "app.py:10: error: Possible GitHub PAT" in out
    assert "app.py:1: warning: F401" in out
    assert "app.py:5: info: E711" in out and "|     if a is None:" in out
    assert "debug.js:2: warning: `debugger`" in out
    assert TOKEN not in proc.stdout + proc.stderr
    assert out.rstrip().endswith("4 findings (1 error, 2 warnings, 1 info)")


def test_json_output(repo: Path) -> None:
    proc = _review(repo, "--git", "HEAD~1..HEAD", "--format", "json", "--analyzers", "python-lint")
    assert proc.returncode == 0, proc.stderr  # only warnings/info: below --fail-on error
    data = json.loads(proc.stdout)
    assert {(f["rule_id"], f["start_line"]) for f in data["findings"]} == {("ruff/F401", 1), ("ruff/E711", 5)}
    assert all(len(f["fingerprint"]) == 32 for f in data["findings"])
    assert set(data["timings"]) == {"python-lint"}


def test_fail_on_threshold(repo: Path) -> None:
    args = ("--git", "HEAD~1..HEAD", "--analyzers", "python-lint")
    assert _review(repo, *args, "--fail-on", "warning").returncode == 1
    assert _review(repo, *args, "--fail-on", "error").returncode == 0


def test_sarif_is_valid(repo: Path) -> None:
    proc = _review(repo, "--git", "HEAD~1..HEAD", "--format", "sarif")
    assert TOKEN not in proc.stdout
    log = json.loads(proc.stdout)
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["endLine"] >= region["startLine"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["secrets/github-pat"] == "error" and levels["ruff/E711"] == "note"


def test_diff_file_reads_heads_from_the_working_tree(repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "change.diff"
    patch.write_text(_git(repo, "diff", "HEAD~1..HEAD"))
    proc = _review(repo, "--diff", str(patch), "--format", "json", "--analyzers", "python-lint,hygiene")
    rules = {f["rule_id"] for f in json.loads(proc.stdout)["findings"]}
    assert {"ruff/F401", "hygiene/debug-debugger"} <= rules


def test_config_from_base_and_mock_llm(repo: Path) -> None:
    (repo / ".reviewops.yaml").write_text("analyzers: {disabled: [secrets]}\nseverity_threshold: loud\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "config")
    # Config read from BASE (HEAD~1 has it), the mock LLM adds a comment per reviewed file.
    proc = _review(repo, "--git", "HEAD~1..HEAD~1", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []
    proc = _review(repo, "--git", "HEAD..HEAD", "--format", "json", REVIEWOPS_MOCK_LLM="true")
    assert json.loads(proc.stdout)["findings"] == []
    (repo / "extra.py").write_text("x = 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "extra")
    proc = _review(repo, "--git", "HEAD~1..HEAD", "--format", "json", REVIEWOPS_MOCK_LLM="true")
    data = json.loads(proc.stdout)
    assert [f["rule_id"] for f in data["findings"]] == ["llm/maintainability"]
    assert any("severity_threshold: unknown severity 'loud'" in n for n in data["notes"])
    assert data["qa_checklist"][0].startswith("[mock LLM]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--diff/--git"),
        (["--diff", "x.diff", "--git", "a..b"], "--diff/--git"),
        (["--git", "nope"], "--git: expected BASE..HEAD"),
        (["--git", "HEAD~1..doesnotexist"], "--git: unknown revision 'doesnotexist'"),
        (["--diff", "missing.diff"], "--diff: no such file"),
        (["--git", "HEAD~1..HEAD", "--analyzers", "secrets,bogus"], "--analyzers: unknown analyzer 'bogus'"),
        (["--git", "HEAD~1..HEAD", "--config", "nope.yaml"], "--config: no such file"),
        (["--git", "HEAD~1..HEAD", "--format", "xml"], "--format"),
    ],
)
def test_bad_input_exits_2(
    repo: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process (typer's runner): the same command object, without a Python start-up per case.
    from typer.testing import CliRunner

    from reviewops.cli.main import app

    monkeypatch.chdir(repo)
    result = CliRunner().invoke(app, ["review", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_llm_endpoint_from_settings(repo: Path) -> None:
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI() as llm:
        llm.findings = [{"path": "app.py", "line": 5, "severity": "warning", "message": "compare with `is`"}]
        proc = _review(
            repo, "--git", "HEAD~1..HEAD", "--format", "json", "--analyzers", "llm",
            REVIEWOPS_LLM_BASE_URL=llm.url, REVIEWOPS_LLM_MODEL="local-model",
            REVIEWOPS_LLM_API_KEY="sk-local", REVIEWOPS_LLM_TIMEOUT_SECONDS="5",
        )  # fmt: skip
        data = json.loads(proc.stdout)
        assert [(f["rule_id"], f["start_line"], f["message"]) for f in data["findings"]] == [
            ("llm/bug", 5, "compare with `is`")
        ]
        assert data["usage"] == {"prompt_tokens": 100, "completion_tokens": 20}
        assert llm.requests[0].body["model"] == "local-model"
        assert TOKEN not in llm.requests[0].prompt  # the secret in the diff is redacted before it leaves


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.patch", b""),
        ("README.md", b"# A project\n\nNot a diff at all.\n"),
        ("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00"),
    ],
)
def test_what_is_not_a_diff_is_refused_naming_the_file(repo: Path, name: str, content: bytes) -> None:
    """Before issue 18 each printed "0 findings" and exited 0: a CI gate given the wrong file went green."""
    (repo / name).write_bytes(content)
    result = _review(repo, "--diff", name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert name in result.stderr and "not a unified diff" in result.stderr


def test_files_of_the_diff_missing_from_the_working_tree_are_named(repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "change.patch"
    patch.write_text(_git(repo, "diff", "HEAD~1", "HEAD"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _review(repo, "--diff", str(patch), "--repo", str(elsewhere))
    assert "not in the working tree" in result.stderr and "app.py" in result.stderr
    assert "notes.txt" not in result.stderr  # removed by the diff: not expected in the tree


def test_a_config_that_cannot_be_used_fails_naming_the_file(repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "change.patch"
    patch.write_text(_git(repo, "diff", "HEAD~1", "HEAD"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("analyzers: [unclosed\n")
    result = _review(repo, "--diff", str(patch), "--config", str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr and "invalid YAML" in result.stderr
    result = _review(repo, "--diff", str(patch), "--config", str(tmp_path))  # a directory
    assert result.returncode == 2 and "--config" in result.stderr


def test_one_finding_is_singular(repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "one.patch"
    patch.write_text("--- a/x.js\n+++ b/x.js\n@@ -1,1 +1,2 @@\n function f() {}\n+debugger;\n")
    result = _review(repo, "--diff", str(patch), "--analyzers", "hygiene")
    assert "1 finding (" in result.stdout, result.stdout + result.stderr


def test_git_range_lints_with_base_config_and_only_new_diagnostics(tmp_path: Path) -> None:
    """`--git`: ruff's configuration and the previous content come from BASE; a head-only config change
    does not apply, and a diagnostic the code already had is not blamed on the range."""
    root = tmp_path / "lint"
    init_repo(root)
    (root / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F"]\nignore = ["F401"]\n')
    (root / "m.py").write_text("def f():\n    old = 1\n    return 0\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    (root / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F"]\nignore = ["F841"]\n')
    (root / "m.py").write_text(
        "import os\n\n\nclass C:\n    def f(self):\n        old = 1\n        new = 2\n        return 0\n"
    )
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "head")
    proc = _review(root, "--git", "HEAD~1..HEAD", "--format", "json", "--analyzers", "python-lint")
    found = [(f["rule_id"], f["start_line"]) for f in json.loads(proc.stdout)["findings"]]
    assert found == [("ruff/F841", 7)], proc.stderr  # base ignores F401; `old` was there; `new` is new
    # A plain patch has no base: every diagnostic on an added line counts, config from the working tree.
    patch = tmp_path / "change.patch"
    patch.write_text(_git(root, "diff", "HEAD~1..HEAD"))
    proc = _review(root, "--diff", str(patch), "--format", "json", "--analyzers", "python-lint")
    assert sorted(f["rule_id"] for f in json.loads(proc.stdout)["findings"]) == ["ruff/F401"]
