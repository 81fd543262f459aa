"""The GitHub Action's logic (`action.yml` runs `python -m reviewops.cli.github_action`): which range the
event asks for, the review, the SARIF file, the step's outputs and summary, and the exit status by fail-on.

It lives here rather than as inline bash in `action.yml` so that a test can run it with a recorded event
file and GitHub's environment variables. Inputs come as `INPUT_*` variables (`action.yml` maps them
explicitly: composite actions do not export their inputs).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from reviewops.analysis.diff import DiffParseError
from reviewops.analysis.local import (
    GIT_TIMEOUT_SECONDS,
    LocalSourceError,
    empty_tree,
    git_config_text,
    is_commit,
    split_range,
)
from reviewops.analysis.model import Severity

if TYPE_CHECKING:
    from reviewops.analysis.engine import ReviewResult

FAIL_ON_CHOICES = ("error", "warning", "info", "none")
# LLM inputs become the settings the review reads; empty inputs leave the LLM out.
LLM_INPUTS = {
    "INPUT_LLM_BASE_URL": "REVIEWOPS_LLM_BASE_URL",
    "INPUT_LLM_MODEL": "REVIEWOPS_LLM_MODEL",
    "INPUT_LLM_API_KEY": "REVIEWOPS_LLM_API_KEY",
}
SUMMARY_ROWS = 50


class ActionError(Exception):
    """Bad input or event: shown as a workflow error, exit status 2."""


@dataclass(frozen=True)
class ActionInputs:
    analyzers: str | None
    fail_on: str
    config: str | None
    sarif: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str], workspace: Path) -> ActionInputs:
        fail_on = env.get("INPUT_FAIL_ON", "").strip().lower() or "error"
        if fail_on not in FAIL_ON_CHOICES:
            raise ActionError(f"fail-on: {fail_on!r} is not one of {', '.join(FAIL_ON_CHOICES)}")
        sarif = Path(env.get("INPUT_SARIF", "").strip() or "reviewops.sarif")
        return cls(
            analyzers=env.get("INPUT_ANALYZERS", "").strip() or None,
            fail_on=fail_on,
            config=env.get("INPUT_CONFIG", "").strip() or None,
            sarif=sarif if sarif.is_absolute() else workspace / sarif,
        )


def _is_zero(sha: str) -> bool:
    return bool(sha) and set(sha) == {"0"}


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False
    )


def ensure_commits(repo: Path, *shas: str) -> None:
    """Fetch the commits a shallow checkout lacks (GitHub serves any reachable commit by id); the review of
    `base...head` also needs their merge base, hence the advice on fetch-depth."""
    missing = [sha for sha in shas if not is_commit(repo, sha)]
    if not missing:
        return
    _git(repo, "fetch", "--no-tags", "--quiet", "origin", *missing)
    still = [sha for sha in missing if not is_commit(repo, sha)]
    if still:
        raise ActionError(
            f"commit {still[0]} is not in the checkout and could not be fetched; "
            "check out with `actions/checkout` and `fetch-depth: 0`"
        )


def ensure_merge_base(repo: Path, base: str, head: str) -> None:
    """`base...head` needs their merge base: a shallow checkout gets its history completed once."""
    if _git(repo, "merge-base", base, head).returncode == 0:
        return
    if _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true":
        _git(repo, "fetch", "--no-tags", "--quiet", "--unshallow", "origin", base, head)
    if _git(repo, "merge-base", base, head).returncode != 0:
        raise ActionError(f"{base} and {head} have no merge base; check out with `fetch-depth: 0`")


def _new_branch_base(repo: Path, payload: Mapping[str, Any], after: str) -> str | None:
    """BASE for a push that created its branch (`before` is all zeros): the default branch's merge base
    when this is another branch, else the parent of the oldest pushed commit, else the empty tree for a
    first push; None when the push adds no commit (a branch made at an existing one)."""
    default = str((payload.get("repository") or {}).get("default_branch") or "")
    if default and payload.get("ref") != f"refs/heads/{default}" and is_commit(repo, f"origin/{default}"):
        ensure_merge_base(repo, f"origin/{default}", after)
        return f"origin/{default}..."
    commits = payload.get("commits") or []
    if not commits:
        return None
    oldest = str(commits[0]["id"])
    ensure_commits(repo, oldest)
    parent = f"{oldest}^"
    return f"{parent}.." if is_commit(repo, parent) else f"{empty_tree(repo)}.."


def event_range(repo: Path, event_name: str, payload: Mapping[str, Any]) -> str | None:
    """The git range to review for this event, None when there is nothing to review (a deleted ref)."""
    if event_name in ("pull_request", "pull_request_target"):
        pull = payload.get("pull_request") or {}
        base, head = str(pull["base"]["sha"]), str(pull["head"]["sha"])
        ensure_commits(repo, base, head)
        ensure_merge_base(repo, base, head)
        return f"{base}...{head}"
    if event_name == "push":
        before, after = str(payload.get("before") or ""), str(payload.get("after") or "")
        if payload.get("deleted") or _is_zero(after) or not after:
            return None
        ensure_commits(repo, after)
        if _is_zero(before) or not before:
            start = _new_branch_base(repo, payload, after)
            return None if start is None else f"{start}{after}"
        ensure_commits(repo, before)
        return f"{before}..{after}"
    if event_name == "merge_group":
        group = payload.get("merge_group") or {}
        base, head = str(group["base_sha"]), str(group["head_sha"])
        ensure_commits(repo, base, head)
        return f"{base}..{head}"
    raise ActionError(
        f"event {event_name!r} has no range to review; run on pull_request, push or merge_group "
        "(or call `reviewops review --git BASE..HEAD` yourself)"
    )


def base_config(repo: Path, spec: str, config: str | None, workdir: Path) -> Path | None:
    """The `config` input as a file. A path inside the repository is read from BASE (a change cannot relax
    its own review rules); an absolute path outside it (made by the workflow) is read as is."""
    if config is None:
        return None
    given = Path(config)
    if given.is_absolute() and not given.resolve().is_relative_to(repo.resolve()):
        if not given.is_file():
            raise ActionError(f"config: no such file {config}")
        return given
    relative = given.resolve().relative_to(repo.resolve()) if given.is_absolute() else given
    base, _head, _three = split_range(spec)
    text = git_config_text(repo, base, str(relative))
    if text is None:
        print(f"::warning::config: {relative} is not in the base revision; the defaults apply")
        return None
    target = workdir / "reviewops-config.yaml"
    target.write_text(text)
    return target


def _summary(result: ReviewResult, spec: str, failing: int, fail_on: str) -> str:
    counts = {s: sum(1 for f in result.findings if f.severity == s) for s in Severity}
    lines = [
        "### ReviewOps",
        "",
        f"Reviewed `{spec}`: {len(result.findings)} findings ({counts[Severity.ERROR]} errors, "
        f"{counts[Severity.WARNING]} warnings, {counts[Severity.INFO]} info); "
        + (f"{failing} at or above fail-on `{fail_on}`." if fail_on != "none" else "fail-on is `none`."),
    ]
    if result.findings:
        lines += ["", "| Where | Severity | Rule | Message |", "| --- | --- | --- | --- |"]
        for f in result.findings[:SUMMARY_ROWS]:
            message = f.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{f.path}:{f.start_line}` | {f.severity.label} | `{f.rule_id}` | {message} |")
        if len(result.findings) > SUMMARY_ROWS:
            lines.append(f"\n… and {len(result.findings) - SUMMARY_ROWS} more in the SARIF file.")
    return "\n".join(lines) + "\n"


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)


def run(env: Mapping[str, str]) -> int:
    """The action's step: 0 passes, 1 when a finding reaches fail-on, 2 for bad input."""
    from reviewops.cli.review import OutputFormat, at_or_above, render, review_local, selected_analyzers

    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    inputs = ActionInputs.from_env(env, workspace)
    event_name = env.get("GITHUB_EVENT_NAME", "")
    event_path = env.get("GITHUB_EVENT_PATH", "")
    if not event_path or not Path(event_path).is_file():
        raise ActionError("GITHUB_EVENT_PATH names no file: run this inside a GitHub Actions job")
    payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
    spec = event_range(workspace, event_name, payload)
    if spec is None:
        print(f"ReviewOps: nothing to review for this {event_name} event")
        _append(env.get("GITHUB_OUTPUT"), "sarif=\nfindings=0\nfailing=0\n")
        return 0
    for name, setting in LLM_INPUTS.items():
        if env.get(name, "").strip():
            os.environ[setting] = env[name].strip()
    enabled = selected_analyzers(inputs.analyzers)
    with tempfile.TemporaryDirectory(prefix="reviewops-action-") as workdir:
        config = base_config(workspace, spec, inputs.config, Path(workdir))
        result = review_local(workspace, git=spec, config=config, enabled=enabled)
    inputs.sarif.parent.mkdir(parents=True, exist_ok=True)
    inputs.sarif.write_text(render(result, OutputFormat.sarif), encoding="utf-8")
    failing = 0 if inputs.fail_on == "none" else at_or_above(result, inputs.fail_on)
    # The report holds file names and messages from the change under review: no line of it may be read
    # as a workflow command, so commands are off while it prints.
    token = secrets.token_hex(16)
    print(
        f"ReviewOps: reviewed {spec}\n::stop-commands::{token}\n{render(result, OutputFormat.text)}\n::{token}::"
    )
    _append(
        env.get("GITHUB_OUTPUT"),
        f"sarif={inputs.sarif}\nrange={spec}\nfindings={len(result.findings)}\nfailing={failing}\n",
    )
    _append(env.get("GITHUB_STEP_SUMMARY"), _summary(result, spec, failing, inputs.fail_on))
    if failing:
        print(f"::error::ReviewOps: {failing} findings at or above fail-on {inputs.fail_on}")
        return 1
    return 0


def main() -> None:
    try:
        status = run(os.environ)
    except (ActionError, LocalSourceError, DiffParseError) as exc:
        print(f"::error::ReviewOps: {exc}")
        status = 2
    except typer.Exit as exc:  # the review's own usage errors (already printed on stderr)
        status = exc.exit_code or 2
    sys.exit(status)


if __name__ == "__main__":
    main()
