"""`python-lint`: ruff with the repository's own configuration from the base of the change, reporting only
the diagnostics the change introduces (see reviewops.analysis.linting), ruff's one-line fixes as suggestions.

The configuration is every `pyproject.toml`, `ruff.toml` and `.ruff.toml` on the way from the repository
root to each changed file, plus what their `extend` settings name, written beside the files so ruff
resolves them (hierarchy, per-file ignores, `requires-python` as target version) exactly as in a checkout.
A repository without any gets a conservative default.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tomllib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from reviewops.analysis.linting import (
    Diagnostic,
    LinterAnalyzer,
    Workspace,
    ancestors,
    join,
    run_tool,
    safe_repo_path,
)
from reviewops.analysis.model import AnalysisContext, ChangedFile, Severity

log = logging.getLogger(__name__)

CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
MAX_EXTENDS = 8
# Used only when the repository configures no ruff at all: ruff's own defaults (pyflakes and the
# pycodestyle errors no formatter argues with) and the bugbear checks that are bugs in any style;
# re-exports and star imports in `__init__.py` are how packages are made, not mistakes.
DEFAULT_CONFIG = """\
# ReviewOps' conservative default: the repository has no ruff configuration.
[lint]
select = ["E4", "E7", "E9", "F", "B006", "B015", "B018"]

[lint.per-file-ignores]
"__init__.py" = ["F401", "F403", "F405"]
"""
NEWEST_TARGET = 'target-version = "py314"\n'  # no declared target: never flag new syntax as old
IMPORTED = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
MAX_MODULE_PROBES = 200


class RuffUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError as exc:  # pragma: no cover - ruff is a dependency
        raise RuffUnavailable("the ruff package is not installed") from exc
    return str(find_ruff_bin())


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def ruff_section(path: str, text: str) -> dict[str, Any] | None:
    """The ruff settings of a config file (None when the file does not configure ruff)."""
    data = _toml(text)
    if path.rsplit("/", 1)[-1] == "pyproject.toml":
        tool = data.get("tool")
        section = tool.get("ruff") if isinstance(tool, dict) else None
        return section if isinstance(section, dict) else None
    return data


def find_configs(paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
    """Every ruff configuration file that applies to `paths` (repo path -> text), `extend` chains included."""
    found: dict[str, str] = {}
    pending = list(dict.fromkeys(join(folder, name) for p in paths for folder in ancestors(p)
                                 for name in CONFIG_NAMES))  # fmt: skip
    extends = 0
    while pending:
        path = pending.pop(0)
        if path in found:
            continue
        text = read(path)
        if text is None:
            continue
        found[path] = text
        section = ruff_section(path, text) or {}
        target = section.get("extend")
        if isinstance(target, str) and extends < MAX_EXTENDS and not target.startswith(("~", "/")):
            folder = path.rsplit("/", 1)[0] if "/" in path else ""
            resolved = safe_repo_path(join(folder, target))
            if resolved is not None:
                extends += 1
                pending.append(resolved)
    return found


def _selects_isort(section: dict[str, Any]) -> bool:
    raw = section.get("lint")
    lint: dict[str, Any] = raw if isinstance(raw, dict) else {}
    chosen = [*section.get("select", []), *section.get("extend-select", []),
              *lint.get("select", []), *lint.get("extend-select", [])]  # fmt: skip
    return any(isinstance(c, str) and (c == "ALL" or c.startswith("I")) for c in chosen)


def _severity(code: str | None, message: str) -> Severity:
    if not code or code in ("invalid-syntax", "syntax-error") or code.startswith("E9"):
        # "Cannot use `match` statement on Python 3.8" depends on the target version: an opinion.
        return Severity.WARNING if "on Python" in message else Severity.ERROR
    if code.startswith(("F", "B")):
        return Severity.WARNING
    return Severity.INFO


def suggestion_from_fix(diag: dict[str, Any], lines: list[str]) -> str | None:
    """A replacement for the flagged line when ruff's fix edits only that line (or deletes it whole)."""
    fix = diag.get("fix") or {}
    edits = fix.get("edits") or []
    if len(edits) != 1 or fix.get("applicability") == "display-only":
        return None
    edit = edits[0]
    start, end = edit["location"], edit["end_location"]
    row = start["row"]
    if row != diag["location"]["row"] or not 1 <= row <= len(lines):
        return None
    content = edit.get("content") or ""
    text = lines[row - 1]
    if end["row"] == row and "\n" not in content:
        return text[: start["column"] - 1] + content + text[end["column"] - 1 :]
    if start["column"] == 1 and end["row"] == row + 1 and end["column"] == 1 and content == "":
        return ""  # delete the whole line
    return None


class PythonLintAnalyzer(LinterAnalyzer):
    id = "python-lint"
    rule_prefix = "ruff"
    severity_cap = Severity.ERROR  # a syntax error the change introduces is worth failing for

    def __init__(self, default_config: str = DEFAULT_CONFIG) -> None:
        self.default_config = default_config

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        return changed.path.endswith((".py", ".pyi"))

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        return find_configs(paths, read)

    def prepare_sources(
        self, workspace: Workspace, configs: dict[str, str], sources: dict[str, str],
        read: Callable[[str], str | None],
    ) -> None:  # fmt: skip
        """isort tells first-party from third-party imports by what exists in the project's source folders;
        the workspace holds only the changed files, so mark the first-party modules they import."""
        if not any(_selects_isort(ruff_section(p, t) or {}) for p, t in configs.items()):
            return
        roots = ["", "src/"]
        for path, text in configs.items():
            section = ruff_section(path, text) or {}
            folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            for src in section.get("src", []) if isinstance(section.get("src"), list) else []:
                safe = safe_repo_path(join(folder.rstrip("/"), str(src)))
                if safe is not None:
                    roots.append(safe + "/")
        stdlib = set(sys.stdlib_module_names) | {"__future__"}
        modules = {
            m for text in sources.values() for m in IMPORTED.findall(text) if m.split(".")[0] not in stdlib
        }
        markers = [f"{folder}/__init__.py" for p in sources for folder in ancestors(p) if folder]
        for candidate in dict.fromkeys(markers):
            if candidate not in sources and read(candidate) is not None:
                workspace.write_config(candidate, "")
        # Each (folder, module) is probed once: a third-party top level costs two reads per source root,
        # a first-party module two per level of its dotted path; at most MAX_MODULE_PROBES reads in all.
        known: dict[str, str | None] = {}
        budget = [MAX_MODULE_PROBES]

        def exists(stem: str) -> str | None:
            if stem not in known:
                known[stem] = None
                for candidate in (f"{stem}/__init__.py", f"{stem}.py"):
                    if candidate in sources:
                        known[stem] = candidate
                        break
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                    if read(candidate) is not None:
                        known[stem] = candidate
                        workspace.write_config(candidate, "")
                        break
            return known[stem]

        for module in sorted(modules):
            parts = module.split(".")
            for root in dict.fromkeys(roots):
                for depth in range(1, len(parts) + 1):
                    found = exists(root + "/".join(parts[:depth]))
                    if found is None or not found.endswith("__init__.py"):
                        break

    def prepare(self, workspace: Workspace, configs: dict[str, str]) -> None:
        super().prepare(workspace, configs)
        if not any(ruff_section(path, text) is not None for path, text in configs.items()):
            default = self.default_config
            root = _toml(configs.get("pyproject.toml", ""))
            if not root.get("project", {}).get("requires-python"):
                default = NEWEST_TARGET + default
            workspace.write_config("ruff.toml", default)

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        # --no-fix: a project's `fix = true` must neither edit the files nor hide fixable diagnostics.
        cmd = [ruff_binary(), "check", "--no-cache", "--no-fix", "--force-exclude", "--exit-zero",
               "--output-format", "json", "--", *paths]  # fmt: skip
        raw = json.loads(run_tool(cmd, root, ok_codes=(0,)) or "[]")
        out: list[Diagnostic] = []
        resolved = root.resolve()
        for diag in raw if isinstance(raw, list) else []:
            try:
                path = Path(diag["filename"]).resolve().relative_to(resolved).as_posix()
            except ValueError:
                continue
            row = int(diag["location"]["row"])
            code = diag.get("code") or "syntax-error"
            message = str(diag.get("message", ""))
            suggestion = suggestion_from_fix(diag, lines.get(path, []))
            if suggestion is not None and (diag.get("fix") or {}).get("message"):
                message += f" (fix: {diag['fix']['message']})"
            out.append(Diagnostic(
                path=path, line=row, rule=code, message=f"{code}: {message}", severity=_severity(code, message),
                suggestion=suggestion,
            ))  # fmt: skip
        return out
