"""The GitHub Action's script (`python -m reviewops.cli.github_action`) run as action.yml runs it: a recorded
webhook payload (octokit's) rewritten to the shas of a throw-away repository, GitHub's environment variables,
and the SARIF file, outputs, summary and exit status that come out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.git_repos import init_repo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-2.1.0-subset.schema.json").read_text())
WEBHOOKS = FIXTURES / "github-webhooks"
TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
ZERO = "0" * 40

BASE_APP = "def add(a, b):\n    return a + b\n"
HEAD_APP = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\n" + f'API_TOKEN = "{TOKEN}"\n'


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def _init(path: Path) -> Path:
    init_repo(path, "master")
    return path


@pytest.fixture
def pr_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """master (base) and a `changes` branch (head) that adds a token and an unused import."""
    repo = _init(tmp_path / "workspace")
    base = _commit(repo, {"app.py": BASE_APP, "README.md": "hello\n"}, "base")
    _git(repo, "checkout", "-qb", "changes")
    head = _commit(repo, {"app.py": HEAD_APP}, "head")
    return repo, base, head


def _event(tmp_path: Path, name: str, edit: dict[str, Any]) -> Path:
    """A recorded payload with the fields that name commits replaced by this test's."""
    payload = json.loads((WEBHOOKS / name).read_text())
    for dotted, value in edit.items():
        target = payload
        *parents, leaf = dotted.split(".")
        for key in parents:
            target = target[key]
        assert leaf in target, dotted  # only fields GitHub really sends are rewritten
        target[leaf] = value
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def _pr_event(tmp_path: Path, base: str, head: str) -> Path:
    return _event(
        tmp_path,
        "pull_request/opened.payload.json",
        {"pull_request.base.sha": base, "pull_request.head.sha": head},
    )


def _run(
    repo: Path, event_name: str, event: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """The step as a runner executes it; returns (process, $GITHUB_OUTPUT as a dict, step summary)."""
    runner_temp = repo.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    output, summary = runner_temp / "output", runner_temp / "summary"
    for f in (output, summary):
        f.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "GITHUB_", "INPUT_"))}
    env.update(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_EVENT_NAME=event_name,
        GITHUB_EVENT_PATH=str(event),
        GITHUB_WORKSPACE=str(repo),
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_REPOSITORY="Codertocat/Hello-World",
        GITHUB_REF="refs/pull/2/merge",
        GITHUB_SHA=_git(repo, "rev-parse", "HEAD"),
        RUNNER_TEMP=str(runner_temp),
    )
    env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
    proc = subprocess.run(
        [sys.executable, "-m", "reviewops.cli.github_action"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs, summary.read_text()


def _sarif(outputs: dict[str, str]) -> dict[str, Any]:
    log = json.loads(Path(outputs["sarif"]).read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    return log


def _rules(log: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in log["runs"][0]["results"]
    }


def test_pull_request_fails_on_the_planted_token_and_writes_valid_sarif(
    tmp_path: Path, pr_repo: tuple[Path, str, str]
) -> None:
    repo, base, head = pr_repo
    proc, outputs, summary = _run(repo, "pull_request", _pr_event(tmp_path, base, head))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    log = _sarif(outputs)
    assert ("secrets/github-pat", "app.py", 8) in _rules(log)
    assert ("ruff/F401", "app.py", 1) in _rules(log)
    assert outputs["range"] == f"{base}...{head}"
    assert outputs["sarif"] == str(repo / "reviewops.sarif")
    assert outputs["failing"] == "1" and int(outputs["findings"]) >= 2
    assert "| `app.py:8` | error | `secrets/github-pat` |" in summary
    assert "::error::ReviewOps: 1 findings at or above fail-on error" in proc.stdout
    # The report prints with workflow commands switched off: a file name cannot issue one.
    stop = next(line for line in proc.stdout.splitlines() if line.startswith("::stop-commands::"))
    token = stop.removeprefix("::stop-commands::")
    assert len(token) == 32 and f"::{token}::" in proc.stdout
    assert proc.stdout.index(stop) < proc.stdout.index("app.py:8: error") < proc.stdout.index(f"::{token}::")
    everything = proc.stdout + proc.stderr + summary + Path(outputs["sarif"]).read_text()
    assert TOKEN not in everything


@pytest.mark.parametrize(
    ("inputs", "status", "failing"),
    [
        ({"fail_on": "none"}, 0, "0"),
        ({"analyzers": "python-lint"}, 0, "0"),  # a warning only, fail-on defaults to error
        ({"analyzers": "python-lint", "fail_on": "warning"}, 1, "1"),
        ({"analyzers": "python-lint", "fail_on": "INFO"}, 1, "1"),
        ({"analyzers": "secrets", "fail_on": "error"}, 1, "1"),
    ],
)
def test_exit_status_follows_fail_on(
    tmp_path: Path, pr_repo: tuple[Path, str, str], inputs: dict[str, str], status: int, failing: str
) -> None:
    repo, base, head = pr_repo
    proc, outputs, _ = _run(
        repo, "pull_request", _pr_event(tmp_path, base, head), sarif="out/r.sarif", **inputs
    )
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert outputs["failing"] == failing
    assert outputs["sarif"] == str(repo / "out" / "r.sarif")
    _sarif(outputs)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"fail_on": "sometimes"}, "fail-on: 'sometimes' is not one of error, warning, info, none"),
        ({"analyzers": "secrets,bogus"}, "--analyzers: unknown analyzer 'bogus'"),
    ],
)
def test_bad_inputs_exit_2(
    tmp_path: Path, pr_repo: tuple[Path, str, str], inputs: dict[str, str], message: str
) -> None:
    repo, base, head = pr_repo
    proc, outputs, _ = _run(repo, "pull_request", _pr_event(tmp_path, base, head), **inputs)
    assert proc.returncode == 2
    assert message in proc.stdout + proc.stderr
    assert "sarif" not in outputs


def test_config_input_is_read_from_the_base(tmp_path: Path) -> None:
    """The pull request switches the secrets analyzer off in the config it names: not honoured."""
    repo = _init(tmp_path / "workspace")
    base = _commit(repo, {"app.py": BASE_APP, "ci/reviewops.yaml": "analyzers: {disabled: [hygiene]}\n"}, "b")
    _git(repo, "checkout", "-qb", "changes")
    relaxed = "analyzers: {disabled: [hygiene, secrets]}\n"
    head = _commit(repo, {"app.py": HEAD_APP, "ci/reviewops.yaml": relaxed, "d.js": "debugger;\n"}, "h")
    proc, outputs, _ = _run(repo, "pull_request", _pr_event(tmp_path, base, head), config="ci/reviewops.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rules = {r[0] for r in _rules(_sarif(outputs))}
    assert "secrets/github-pat" in rules
    assert not any(r.startswith("hygiene/") for r in rules)  # the base's config did apply


def test_push_reviews_before_to_after(tmp_path: Path, pr_repo: tuple[Path, str, str]) -> None:
    repo, base, head = pr_repo
    event = _event(tmp_path, "push/payload.json", {"before": base, "after": head, "deleted": False})
    proc, outputs, _ = _run(repo, "push", event)
    assert proc.returncode == 1
    assert outputs["range"] == f"{base}..{head}"
    assert ("secrets/github-pat", "app.py", 8) in _rules(_sarif(outputs))


def test_push_of_a_new_default_branch_reviews_everything_from_the_root(tmp_path: Path) -> None:
    """The first push of a repository: `before` is all zeros and the only commit has no parent."""
    repo = _init(tmp_path / "workspace")
    root = _commit(repo, {"app.py": HEAD_APP}, "root")
    event = _event(
        tmp_path,
        "push/with-new-branch.payload.json",
        {"after": root, "commits": [{"id": root}], "head_commit.id": root},
    )
    proc, outputs, _ = _run(repo, "push", event)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outputs["range"].endswith(f"..{root}") and outputs["range"].startswith("4b825dc")  # the empty tree
    assert ("secrets/github-pat", "app.py", 8) in _rules(_sarif(outputs))


def test_push_of_a_new_feature_branch_reviews_from_the_default_branch(tmp_path: Path) -> None:
    origin = _init(tmp_path / "origin")
    _commit(origin, {"app.py": BASE_APP}, "base")
    repo = tmp_path / "workspace"
    subprocess.run(["git", "clone", "-q", str(origin), str(repo)], check=True, timeout=60)
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    _git(repo, "checkout", "-qb", "feature")
    first = _commit(repo, {"notes.md": "x\n"}, "one")
    head = _commit(repo, {"app.py": HEAD_APP}, "two")
    event = _event(
        tmp_path,
        "push/with-new-branch.payload.json",
        {"ref": "refs/heads/feature", "after": head, "commits": [{"id": first}, {"id": head}]},
    )
    proc, outputs, _ = _run(repo, "push", event)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outputs["range"] == f"origin/master...{head}"
    assert {r[1] for r in _rules(_sarif(outputs))} == {"app.py"}


def test_shallow_checkout_fetches_the_missing_base(tmp_path: Path) -> None:
    """actions/checkout's default depth of 1: the base commit comes from origin by id."""
    origin = _init(tmp_path / "origin")
    base = _commit(origin, {"app.py": BASE_APP}, "base")
    _git(origin, "checkout", "-qb", "changes")
    head = _commit(origin, {"app.py": HEAD_APP}, "head")
    repo = tmp_path / "workspace"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "changes", f"file://{origin}", str(repo)],
        check=True,
        timeout=60,
    )
    assert subprocess.run(["git", "-C", str(repo), "cat-file", "-e", base], check=False).returncode != 0
    proc, outputs, _ = _run(repo, "pull_request", _pr_event(tmp_path, base, head))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("secrets/github-pat", "app.py", 8) in _rules(_sarif(outputs))


def test_deleted_branch_and_unknown_events(tmp_path: Path, pr_repo: tuple[Path, str, str]) -> None:
    repo, base, _head = pr_repo
    deleted = _event(tmp_path, "push/payload.json", {"before": base, "after": ZERO, "deleted": True})
    proc, outputs, _ = _run(repo, "push", deleted)
    assert proc.returncode == 0 and outputs["sarif"] == ""  # action.yml skips the upload
    proc, _, _ = _run(repo, "workflow_dispatch", deleted)
    assert (
        proc.returncode == 2 and "::error::ReviewOps: event 'workflow_dispatch' has no range" in proc.stdout
    )
    unknown = _pr_event(tmp_path, base, "1" * 40)
    proc, _, _ = _run(repo, "pull_request", unknown)
    assert proc.returncode == 2 and f"commit {'1' * 40} is not in the checkout" in proc.stdout


def test_llm_inputs_reach_the_reviewer_without_the_secret(
    tmp_path: Path, pr_repo: tuple[Path, str, str]
) -> None:
    from tests.support.fake_openai import FakeOpenAI

    repo, base, head = pr_repo
    with FakeOpenAI() as llm:
        llm.findings = [{"path": "app.py", "line": 4, "severity": "warning", "message": "name it clearly"}]
        proc, outputs, _ = _run(
            repo, "pull_request", _pr_event(tmp_path, base, head), analyzers="llm", fail_on="warning",
            llm_base_url=llm.url, llm_model="local-model", llm_api_key="sk-local",
        )  # fmt: skip
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert ("llm/bug", "app.py", 4) in _rules(_sarif(outputs))
        assert llm.requests and llm.requests[0].body["model"] == "local-model"
        assert all(TOKEN not in r.prompt for r in llm.requests)
