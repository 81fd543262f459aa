"""`reviewops review --staged`: the index's content is judged, never the working tree's; it works before
the first commit and whatever diff prefixes the user's git config asks for; `--no-llm` leaves the LLM out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.git_repos import init_repo

TOKEN = "ghp_" + "M1n2B3v4C5x6Z7l8K9j0H1g2F3d4S5a6P7o8"
UNUSED_IMPORT = "import os\n\n\ndef add(a, b):\n    return a + b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """No commit yet: HEAD is unborn."""
    root = tmp_path / "repo"
    init_repo(root)
    return root


def _review(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "reviewops.cli.review", "--staged", "--format", "json", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )


def _findings(proc: subprocess.CompletedProcess[str]) -> set[tuple[str, str, int]]:
    return {(f["rule_id"], f["path"], f["start_line"]) for f in json.loads(proc.stdout)["findings"]}


def test_head_content_comes_from_the_index(repo: Path) -> None:
    """python-lint runs ruff on the whole head file: it must be the staged one."""
    (repo / "calc.py").write_text(UNUSED_IMPORT)
    _git(repo, "add", "calc.py")
    (repo / "calc.py").write_text(FIXED)  # fixed in the working tree only
    proc = _review(repo, "--analyzers", "python-lint", "--fail-on", "warning")
    assert proc.returncode == 1, proc.stderr
    assert _findings(proc) == {("ruff/F401", "calc.py", 1)}
    _git(repo, "add", "calc.py")
    (repo / "calc.py").write_text(UNUSED_IMPORT)  # broken in the working tree only
    proc = _review(repo, "--analyzers", "python-lint", "--fail-on", "warning")
    assert proc.returncode == 0 and _findings(proc) == set()


def test_staged_key_is_found_before_the_first_commit_and_not_printed(repo: Path) -> None:
    (repo / "cfg.py").write_text(f'TOKEN = "{TOKEN}"\n')
    _git(repo, "add", "cfg.py")
    (repo / "cfg.py").write_text("TOKEN = None\n")
    proc = _review(repo, "--analyzers", "secrets")
    assert proc.returncode == 1
    assert _findings(proc) == {("secrets/github-pat", "cfg.py", 1)}
    assert TOKEN not in proc.stdout + proc.stderr


def test_after_commits_only_the_staged_change_counts(repo: Path) -> None:
    (repo / "calc.py").write_text(UNUSED_IMPORT)
    _git(repo, "add", "calc.py")
    _git(repo, "commit", "-qm", "one")
    (repo / "calc.py").write_text(UNUSED_IMPORT + "\n\ndef sub(a, b):\n    return a - b\n")
    _git(repo, "add", "calc.py")
    # The unused import is in HEAD already, outside the staged hunk: not this commit's finding.
    proc = _review(repo, "--analyzers", "python-lint", "--fail-on", "warning")
    assert proc.returncode == 0 and _findings(proc) == set()
    assert _review(repo).returncode == 0


def test_git_config_cannot_change_the_paths(repo: Path) -> None:
    """diff.mnemonicPrefix makes `git diff --cached` print `c/` and `i/`, core.quotePath escapes names."""
    _git(repo, "config", "diff.mnemonicPrefix", "true")
    _git(repo, "config", "diff.noprefix", "false")
    name = "café.py"
    (repo / name).write_text(f'TOKEN = "{TOKEN}"\n')
    _git(repo, "add", name)
    proc = _review(repo, "--analyzers", "secrets")
    assert _findings(proc) == {("secrets/github-pat", name, 1)}


def test_config_comes_from_head(repo: Path) -> None:
    (repo / ".reviewops.yaml").write_text("analyzers: {disabled: [secrets]}\n")
    (repo / "cfg.py").write_text(f'TOKEN = "{TOKEN}"\n')
    _git(repo, "add", "-A")
    # Not committed yet: a staged config does not relax the review of the commit that adds it.
    assert _review(repo).returncode == 1
    _git(repo, "commit", "-qm", "config", "--no-verify")
    (repo / "more.py").write_text(f'OTHER = "{TOKEN}"\n')
    _git(repo, "add", "more.py")
    assert _review(repo).returncode == 0


def test_no_llm_never_calls_the_configured_llm(repo: Path) -> None:
    from tests.support.fake_openai import FakeOpenAI

    (repo / "calc.py").write_text(FIXED)
    _git(repo, "add", "calc.py")
    with FakeOpenAI() as llm:
        env = {
            "REVIEWOPS_LLM_BASE_URL": llm.url,
            "REVIEWOPS_LLM_MODEL": "m",
            "REVIEWOPS_LLM_TIMEOUT_SECONDS": "5",
        }
        assert _review(repo, **env).returncode == 0
        assert len(llm.requests) >= 1  # configured: the reviewer runs by default
        llm.requests.clear()
        proc = _review(repo, "--no-llm", **env)
        assert proc.returncode == 0 and llm.requests == []
        assert json.loads(proc.stdout)["qa_checklist"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-llm", "--analyzers", "secrets,llm"], "--no-llm: 'llm' is LLM-backed"),
        (["--no-llm", "--analyzers", "qa-checklist"], "--no-llm: 'qa-checklist' is LLM-backed"),
        (["--git", "HEAD..HEAD"], "--diff/--git/--staged: give exactly one"),
    ],
)
def test_bad_combinations_exit_2(repo: Path, args: list[str], message: str) -> None:
    proc = _review(repo, *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_outside_a_repository_exits_2(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = _review(plain)
    assert proc.returncode == 2 and "is not a git repository" in proc.stderr
