"""What every external linter analyzer shares: the base/head workspace, the new-only rule, the findings.

A linter runs twice on the same repository configuration, read from the base of the change: once on the
head content of the changed files and once on their base content. A diagnostic is reported only when the
pull request introduced it: its fingerprint (rule + whitespace-normalised line text + occurrence) is not
among the base's, so moving or re-indenting code never re-reports what was there, and it starts on an added
line. Without a base (a plain patch file) the head's diagnostics on added lines are reported.

The files are written to a temporary directory laid out like the repository, with the base's configuration
files beside them, so each linter finds its configuration the way it does in the project's own checkout.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding, Severity
from reviewops.analysis.parallel import side_by_side

log = logging.getLogger(__name__)
LINTER_TIMEOUT_SECONDS = 120
MAX_FILE_BYTES = 1_000_000  # larger files are not linted (generated or vendored, and slow)
READ_CONCURRENCY = 8  # file contents fetched side by side: each read is an HTTP round trip to GitHub


def read_all(reader: Callable[[str], str | None], paths: Sequence[str]) -> dict[str, str | None]:
    """Every path's text through `reader`, side by side: a 20-file pull request made 40 GitHub round trips
    one after another (head and base of each file), which dominated its review time after the LLM's."""
    unique = list(dict.fromkeys(paths))
    return dict(zip(unique, side_by_side(reader, unique, READ_CONCURRENCY, "read"), strict=True))


@dataclass(frozen=True)
class Diagnostic:
    """One linter message on one side. `path` is the repository path on that side."""

    path: str
    line: int
    rule: str
    message: str
    severity: Severity
    suggestion: str | None = None  # replacement for the whole line (only when `line` alone is changed)


class BinaryMissing(RuntimeError):
    """The linter's executable is not installed: the analyzer notes it and skips."""


def find_binary(name: str) -> str:
    """`name` from the running interpreter's scripts folder (where the PyPI wheels put it) or PATH."""
    for folder in (Path(sys.executable).parent, Path(os.path.realpath(sys.executable)).parent):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BinaryMissing(f"{name} is not installed")
    return found


def safe_repo_path(path: str) -> str | None:
    """A normalised repository-relative POSIX path, or None when it would leave the repository."""
    if not path or "\x00" in path or path.startswith(("/", "\\")):
        return None
    normal = posixpath.normpath(path.replace("\\", "/"))
    if normal in ("", ".") or normal == ".." or normal.startswith("../"):
        return None
    return normal


def ancestors(path: str) -> list[str]:
    """The folders from the repository root down to `path`'s own ("" is the root)."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts) + 1)]


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def normalise(text: str) -> str:
    return " ".join(text.split())


def line_of(lines: Sequence[str], number: int) -> str:
    return lines[number - 1] if 1 <= number <= len(lines) else ""


def introduced(
    head: Iterable[Diagnostic], base: Iterable[Diagnostic], head_lines: dict[str, list[str]],
    base_lines: dict[str, list[str]],
) -> list[Diagnostic]:  # fmt: skip
    """Head diagnostics the base did not have, compared by rule + normalised line text + occurrence.

    Counted over all files of the change together, so code moved from one file to another keeps its
    old diagnostics quiet too.
    """
    before = Counter(
        (d.rule, normalise(line_of(base_lines.get(d.path, []), d.line))) for d in base
    )  # fmt: skip
    seen: Counter[tuple[str, str]] = Counter()
    out: list[Diagnostic] = []
    for diag in sorted(head, key=lambda d: (d.path, d.line, d.rule)):
        key = (diag.rule, normalise(line_of(head_lines.get(diag.path, []), diag.line)))
        seen[key] += 1
        if seen[key] > before[key]:
            out.append(diag)
    return out


def unmatched(
    base: list[Diagnostic], head: list[Diagnostic], base_lines: dict[str, list[str]],
    head_lines: dict[str, list[str]],
) -> list[Diagnostic]:  # fmt: skip
    """The base diagnostics no head diagnostic matched by fingerprint (gone, or on an edited line)."""
    return introduced(base, head, base_lines, head_lines)


def carried_over(
    new: list[Diagnostic], base: list[Diagnostic], files: Sequence[ChangedFile]
) -> list[Diagnostic]:
    """Drop a head diagnostic when the hunk it lies in removed a line with the same rule: the change edited
    a line that already had the problem (a version bump of an outdated action, an argument added to an
    unquoted command), it did not introduce it."""
    by_base_path = {(f.previous_path or f.path): f for f in files}
    by_head_path = {f.path: f for f in files}
    available: Counter[tuple[str, int, str]] = Counter()  # (head path, hunk index, rule)
    for diag in base:
        changed = by_base_path.get(diag.path)
        for index, hunk in enumerate(changed.hunks if changed else ()):
            if diag.line in hunk.removed:
                available[(changed.path, index, diag.rule)] += 1  # type: ignore[union-attr]
    out: list[Diagnostic] = []
    for diag in new:
        changed = by_head_path.get(diag.path)
        index = next((i for i, h in enumerate(changed.hunks) if diag.line in h.added), -1) if changed else -1
        key = (diag.path, index, diag.rule)
        if index >= 0 and available[key] > 0:
            available[key] -= 1
            continue
        out.append(diag)
    return out


class Workspace:
    """A temporary checkout of the changed files: `head/` and `base/`, each with the base's config files."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="reviewops-lint-")
        self.root = Path(self._tmp.name)
        self.head = self.root / "head"
        self.base = self.root / "base"
        self.head.mkdir()
        self.base.mkdir()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    @staticmethod
    def write(side: Path, path: str, text: str) -> bool:
        safe = safe_repo_path(path)
        if safe is None:
            return False
        target = side / safe
        if not target.resolve().is_relative_to(side.resolve()):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return True

    def write_config(self, path: str, text: str) -> None:
        self.write(self.head, path, text)
        self.write(self.base, path, text)


def run_tool(cmd: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0, 1)) -> str:
    """Run a linter with a clean HOME (so no user-level configuration of the server leaks in)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=LINTER_TIMEOUT_SECONDS, check=False, env=env
    )
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{Path(cmd[0]).name} exit {proc.returncode}: {proc.stderr.strip()[:300]}")
    return proc.stdout


@dataclass
class Side:
    """The files of one side as the linter sees them: repo path -> lines."""

    root: Path
    lines: dict[str, list[str]]


class LinterAnalyzer:
    """Base of the external linters: subclasses say which files, which configuration, how to run."""

    id = "linter"
    rule_prefix = "lint"  # rule ids read `<prefix>/<linter's code>`, e.g. `shellcheck/SC2086`
    binary = ""
    severity_cap = Severity.WARNING  # a linter's opinion never fails a check run on its own

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        raise NotImplementedError

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        """The configuration files (repo path -> text) that apply to `paths`, read with `read`."""
        raise NotImplementedError

    def enabled_by(self, configs: dict[str, str]) -> bool:
        """Whether the linter runs at all given the configuration found (yamllint needs one)."""
        return True

    def prepare(self, workspace: Workspace, configs: dict[str, str]) -> None:
        """Write the configuration into both sides (a default one when the repository has none)."""
        for path, text in configs.items():
            workspace.write_config(path, text)

    def prepare_sources(
        self, workspace: Workspace, configs: dict[str, str], sources: dict[str, str],
        read: Callable[[str], str | None],
    ) -> None:  # fmt: skip
        """Anything else from base the linter needs beside the changed files (`sources`: path -> head text)."""

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        raise NotImplementedError

    # --- the shared flow ---

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        chosen = [
            f for f in ctx.files
            if f.analyzable and f.added_lines() and safe_repo_path(f.path) and self.wants(f, ctx)
        ]  # fmt: skip
        if not chosen:
            return []
        reader = ctx.read_base or ctx.read_head
        configs = self.config_paths([f.path for f in chosen], reader)
        if not self.enabled_by(configs):
            return []
        try:
            if self.binary:
                find_binary(self.binary)
        except BinaryMissing as exc:
            ctx.notes.append(f"{self.id}: {exc}; those files were not linted.")
            return []
        with Workspace() as ws:
            self.prepare(ws, configs)
            head_texts = read_all(ctx.read_head, [f.path for f in chosen])
            self.prepare_sources(ws, configs, {p: t for p, t in head_texts.items() if t is not None}, reader)
            head = self._materialise(ws.head, list(head_texts.items()))
            if not head.lines:
                return []
            head_diags = self.lint(ws.head, sorted(head.lines), head.lines)
            added = {f.path: f.added_lines() for f in chosen}
            if not any(d.line in added.get(d.path, {}) for d in head_diags):
                return []  # nothing on an added line: the base run cannot change that (and costs a run)
            if ctx.read_base is None:
                new = head_diags
            else:
                base_paths = [f.previous_path or f.path for f in chosen if f.status != "added"]
                base_files = list(read_all(ctx.read_base, base_paths).items())
                base = self._materialise(ws.base, base_files)
                base_diags = self.lint(ws.base, sorted(base.lines), base.lines) if base.lines else []
                new = introduced(head_diags, base_diags, head.lines, base.lines)
                new = carried_over(new, unmatched(base_diags, head_diags, base.lines, head.lines), chosen)
        return self._findings(new, {f.path: f for f in chosen}, head.lines)

    def _materialise(self, side: Path, files: list[tuple[str, str | None]]) -> Side:
        lines: dict[str, list[str]] = {}
        for path, text in files:
            if text is None or len(text) > MAX_FILE_BYTES or "\x00" in text:
                continue
            if Workspace.write(side, path, text):
                lines[path] = text.splitlines()
        return Side(side, lines)

    def _findings(
        self, diags: list[Diagnostic], changed: dict[str, ChangedFile], lines: dict[str, list[str]]
    ) -> list[Finding]:
        out: list[Finding] = []
        for diag in diags:
            file = changed.get(diag.path)
            if file is None:
                continue
            added = file.added_lines()
            if diag.line not in added:
                continue  # the change did not write this line: not its diagnostic to answer for
            # One-line comments: a multi-line range might leave the hunk, a single line always lies in it.
            out.append(
                Finding(
                    analyzer=self.id, rule_id=f"{self.rule_prefix}/{diag.rule}", path=diag.path, start_line=diag.line,
                    end_line=diag.line, severity=min(diag.severity, self.severity_cap), message=diag.message,
                    suggestion=diag.suggestion, line_content=added[diag.line],
                )
            )  # fmt: skip
        return out
