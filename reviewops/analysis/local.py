"""The local side of `reviewops review`: a diff file or a git range instead of a pull request."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reviewops.analysis.config import CONFIG_PATH
from reviewops.analysis.diff import parse_unified_diff
from reviewops.analysis.model import ChangedFile

GIT_TIMEOUT_SECONDS = 60


class LocalSourceError(ValueError):
    """Bad --diff/--git input; the message is shown to the user as is."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False
    )


def split_range(spec: str) -> tuple[str, str, bool]:
    """`BASE..HEAD` or `BASE...HEAD` (merge base) -> (base, head, use_merge_base)."""
    three = "..." in spec
    base, sep, head = spec.partition("..." if three else "..")
    if not sep or not base or not head:
        raise LocalSourceError(f"--git: expected BASE..HEAD, got {spec!r}")
    return base, head, three


def git_range_files(repo: Path, spec: str) -> tuple[list[ChangedFile], str, str]:
    """Parse `git diff BASE..HEAD`; returns (files, base, head), base being the merge base for `...`."""
    base, head, three = split_range(spec)
    for ref in (base, head):
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
            raise LocalSourceError(f"--git: unknown revision {ref!r} in {repo}")
    if three:
        merge_base = _git(repo, "merge-base", base, head)
        if merge_base.returncode != 0:
            raise LocalSourceError(f"--git: {base!r} and {head!r} have no merge base")
        base = merge_base.stdout.decode().strip()
    diff = _git(repo, "diff", "--no-color", "--no-ext-diff", "-M", f"{base}{'...' if three else '..'}{head}")
    if diff.returncode != 0:
        raise LocalSourceError(f"--git: git diff failed: {diff.stderr.decode(errors='replace').strip()}")
    return parse_unified_diff(diff.stdout.decode("utf-8", errors="replace")), base, head


def git_reader(repo: Path, rev: str) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        shown = _git(repo, "show", f"{rev}:{path}")
        return shown.stdout.decode("utf-8", errors="replace") if shown.returncode == 0 else None

    return read


def tree_reader(root: Path) -> Callable[[str], str | None]:
    resolved = root.resolve()

    def read(path: str) -> str | None:
        target = (resolved / path).resolve()
        if not target.is_relative_to(resolved) or not target.is_file():
            return None
        return target.read_text(encoding="utf-8", errors="replace")

    return read


def git_config_text(repo: Path, rev: str) -> str | None:
    """`.reviewops.yaml` as of `rev` (the base: a change cannot relax its own review rules)."""
    shown = _git(repo, "show", f"{rev}:{CONFIG_PATH}")
    return shown.stdout.decode("utf-8", errors="replace") if shown.returncode == 0 else None


@dataclass
class LocalSource:
    files: list[ChangedFile]
    read_head: Callable[[str], str | None]
    config_text: str | None
    title: str
    read_base: Callable[[str], str | None] | None = None  # None for a patch file: its base is unknown


def load_local(repo: Path, *, diff: Path | None, git: str | None, config: Path | None) -> LocalSource:
    """What `reviewops review` analyzes: a patch file (`-` is stdin; heads from the working tree `repo`)
    or a git range (heads from `git show HEAD:path`, config from BASE). `config` overrides the config."""
    config_text = config.read_text() if config is not None else None
    if git is not None:
        files, base, head = git_range_files(repo, git)
        if config is None:
            config_text = git_config_text(repo, base)
        return LocalSource(files, git_reader(repo, head), config_text, git, read_base=git_reader(repo, base))
    if diff is None:
        raise LocalSourceError("--diff/--git: give exactly one of --diff FILE or --git BASE..HEAD")
    if str(diff) == "-":
        raw = sys.stdin.buffer.read()
    elif diff.is_file():
        raw = diff.read_bytes()
    else:
        raise LocalSourceError(f"--diff: no such file {diff}")
    files = parse_unified_diff(raw.decode("utf-8", errors="replace"))  # bytes: CRLF stays as written
    if config is None and (repo / CONFIG_PATH).is_file():
        config_text = (repo / CONFIG_PATH).read_text()
    return LocalSource(files, tree_reader(repo), config_text, str(diff))
