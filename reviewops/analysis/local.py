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


ONE_SOURCE = "--diff/--git/--staged: give exactly one of --diff FILE, --git BASE..HEAD or --staged"


class LocalSourceError(ValueError):
    """Bad --diff/--git input; the message is shown to the user as is."""


# Fixed prefixes and unquoted paths whatever the user's git config says (diff.mnemonicPrefix gives
# `c/`/`i/`, diff.noprefix none, core.quotePath octal escapes): the parser expects `a/`, `b/` and plain names.
DIFF_ARGS = ("diff", "--no-color", "--no-ext-diff", "-M", "--src-prefix=a/", "--dst-prefix=b/")
STAGED_TITLE = "staged changes"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-c", "core.quotePath=false", "-C", str(repo), *args],
        capture_output=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )


def _parse_git_diff(diff: subprocess.CompletedProcess[bytes], option: str) -> list[ChangedFile]:
    if diff.returncode != 0:
        raise LocalSourceError(f"{option}: git diff failed: {diff.stderr.decode(errors='replace').strip()}")
    return parse_unified_diff(diff.stdout.decode("utf-8", errors="replace"))


def split_range(spec: str) -> tuple[str, str, bool]:
    """`BASE..HEAD` or `BASE...HEAD` (merge base) -> (base, head, use_merge_base)."""
    three = "..." in spec
    base, sep, head = spec.partition("..." if three else "..")
    if not sep or not base or not head:
        raise LocalSourceError(f"--git: expected BASE..HEAD, got {spec!r}")
    return base, head, three


def git_range_files(repo: Path, spec: str) -> tuple[list[ChangedFile], str, str]:
    """Parse `git diff BASE..HEAD`; returns (files, base, head): BASE may be the empty tree (`..` only),
    and is the merge base for `...`."""
    base, head, three = split_range(spec)
    for ref in (base, head):
        if not is_commit(repo, ref) and not (ref == base and not three and is_empty_tree(repo, ref)):
            raise LocalSourceError(f"--git: unknown revision {ref!r} in {repo}")
    if three:
        merge_base = _git(repo, "merge-base", base, head)
        if merge_base.returncode != 0:
            raise LocalSourceError(f"--git: {base!r} and {head!r} have no merge base")
        base = merge_base.stdout.decode().strip()
    diff = _git(repo, *DIFF_ARGS, f"{base}{'...' if three else '..'}{head}")
    return _parse_git_diff(diff, "--git"), base, head


def is_commit(repo: Path, rev: str) -> bool:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode == 0


def empty_tree(repo: Path) -> str:
    """The repository's empty tree id (sha1 or sha256): BASE of a root commit's review, `EMPTY..HEAD`."""
    made = _git(repo, "hash-object", "-t", "tree", "/dev/null")
    if made.returncode != 0:
        raise LocalSourceError(f"git hash-object failed: {made.stderr.decode(errors='replace').strip()}")
    return made.stdout.decode().strip()


def is_empty_tree(repo: Path, rev: str) -> bool:
    return len(rev) >= 40 and rev == empty_tree(repo)


def staged_files(repo: Path) -> list[ChangedFile]:
    """Parse `git diff --cached`: what the next commit adds, also before the first commit (unborn HEAD,
    where git compares the index with the empty tree)."""
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise LocalSourceError(f"--staged: {repo} is not a git repository")
    return _parse_git_diff(_git(repo, *DIFF_ARGS, "--cached"), "--staged")


def has_head(repo: Path) -> bool:
    return is_commit(repo, "HEAD")


def git_reader(repo: Path, rev: str) -> Callable[[str], str | None]:
    """A file as of `rev`; `rev=""` reads the index (`git show :path`, the staged content)."""

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


def git_config_text(repo: Path, rev: str, path: str = CONFIG_PATH) -> str | None:
    """`.reviewops.yaml` (or `path`) as of `rev` (the base: a change cannot relax its own review rules)."""
    shown = _git(repo, "show", f"{rev}:{path}")
    return shown.stdout.decode("utf-8", errors="replace") if shown.returncode == 0 else None


@dataclass
class LocalSource:
    files: list[ChangedFile]
    read_head: Callable[[str], str | None]
    config_text: str | None
    title: str
    read_base: Callable[[str], str | None] | None = None  # None for a patch file: its base is unknown


def load_local(
    repo: Path, *, diff: Path | None, git: str | None, config: Path | None, staged: bool = False
) -> LocalSource:
    """What `reviewops review` analyzes: a patch file (`-` is stdin; heads from the working tree `repo`),
    a git range (heads from `git show HEAD:path`, config from BASE) or the staged change (heads from the
    index, `git show :path`, so unstaged edits never change the verdict; config from HEAD, none before the
    first commit). `config` overrides the config."""
    if sum((diff is not None, git is not None, staged)) != 1:
        raise LocalSourceError(ONE_SOURCE)
    config_text = config.read_text() if config is not None else None
    if staged:
        files = staged_files(repo)
        if config is None and has_head(repo):
            config_text = git_config_text(repo, "HEAD")
        # The base of a staged change is HEAD (none before the first commit: every diagnostic is new).
        staged_base = git_reader(repo, "HEAD") if has_head(repo) else None
        return LocalSource(files, git_reader(repo, ""), config_text, STAGED_TITLE, read_base=staged_base)
    if git is not None:
        files, base, head = git_range_files(repo, git)
        if config is None:
            config_text = git_config_text(repo, base)
        return LocalSource(files, git_reader(repo, head), config_text, git, read_base=git_reader(repo, base))
    if diff is None:  # pragma: no cover - excluded by the count above
        raise LocalSourceError(ONE_SOURCE)
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
