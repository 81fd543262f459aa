"""`shellcheck`, `hadolint`, `actionlint` and `yamllint`: the field's linters for shell scripts, Dockerfiles,
GitHub Actions workflows and YAML, each with the repository's own configuration from base and reporting only
what the change introduces (reviewops.analysis.linting). Each is an analyzer of its own, so a tenant or
`.reviewops.yaml` can switch it off by id.

Severity: a linter's error or warning is a warning here, never an error, so a linter's opinion alone never
fails a check run; without a repository configuration only the messages the tool itself ranks as problems
are posted (hadolint's default warnings are pinning advice, stored as info).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Sequence
from pathlib import Path

from reviewops.analysis.linting import Diagnostic, LinterAnalyzer, ancestors, find_binary, join, run_tool
from reviewops.analysis.model import AnalysisContext, ChangedFile, Severity

SHELL_SUFFIXES = (".sh", ".bash", ".ksh")
SHELLS = ("sh", "bash", "dash", "ksh")
WORKFLOW_SUFFIXES = (".yml", ".yaml")


def _first_present(names: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
    for name in names:
        text = read(name)
        if text is not None:
            return {name: text}
    return {}


def shebang_shell(text: str | None) -> bool:
    """`#!/bin/sh`, `#!/usr/bin/env bash` and the like on the first line."""
    if not text or not text.startswith("#!"):
        return False
    words = text.split("\n", 1)[0][2:].split()
    if not words:
        return False
    program = posixpath.basename(words[0])
    if program == "env":
        rest = [w for w in words[1:] if not w.startswith("-")]
        program = rest[0] if rest else ""
    return program in SHELLS


class ShellcheckAnalyzer(LinterAnalyzer):
    id = "shellcheck"
    rule_prefix = "shellcheck"
    binary = "shellcheck"
    LEVELS = {"error": Severity.WARNING, "warning": Severity.WARNING, "info": Severity.INFO,
              "style": Severity.INFO}  # fmt: skip

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        if changed.path.endswith(SHELL_SUFFIXES):
            return True
        name = posixpath.basename(changed.path)
        # Extensionless scripts (scripts/test, bin/deploy) are shell when their shebang says so.
        return "." not in name and shebang_shell(ctx.read_head(changed.path))

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        # shellcheck reads the nearest .shellcheckrc (or shellcheckrc) from the script's folder upwards.
        found: dict[str, str] = {}
        for folder in dict.fromkeys(f for p in paths for f in ancestors(p)):
            found.update(_first_present([join(folder, ".shellcheckrc"), join(folder, "shellcheckrc")], read))
        return found

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        cmd = [find_binary(self.binary), "--format=json1", "--", *paths]
        data = json.loads(run_tool(cmd, root) or "{}")
        return [
            Diagnostic(path=str(c["file"]), line=int(c["line"]), rule=f"SC{c['code']}",
                       message=f"SC{c['code']}: {c['message']}",
                       severity=self.LEVELS.get(str(c.get("level")), Severity.INFO))
            for c in data.get("comments", [])
        ]  # fmt: skip


class HadolintAnalyzer(LinterAnalyzer):
    id = "hadolint"
    rule_prefix = "hadolint"
    binary = "hadolint"
    CONFIGS = (".hadolint.yaml", ".hadolint.yml")

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        name = posixpath.basename(changed.path)
        lower = name.lower()
        return (lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile."))
                or lower.endswith((".dockerfile", ".containerfile")))  # fmt: skip

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        return _first_present(self.CONFIGS, read)  # hadolint reads it from the working directory: the root

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        configured = any((root / name).is_file() for name in self.CONFIGS)
        levels = {"error": Severity.WARNING, "warning": Severity.WARNING if configured else Severity.INFO}
        cmd = [find_binary(self.binary), "--format", "json", "--no-fail", *paths]
        data = json.loads(run_tool(cmd, root, ok_codes=(0,)) or "[]")
        return [
            Diagnostic(path=str(d["file"]), line=int(d["line"]), rule=str(d["code"]),
                       message=f"{d['code']}: {d['message']}",
                       severity=levels.get(str(d.get("level")), Severity.INFO))
            for d in data
        ]  # fmt: skip


class ActionlintAnalyzer(LinterAnalyzer):
    id = "actionlint"
    rule_prefix = "actionlint"
    binary = "actionlint"

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        folder, _, name = changed.path.rpartition("/")
        return folder == ".github/workflows" and name.endswith(WORKFLOW_SUFFIXES)

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        return _first_present([".github/actionlint.yaml", ".github/actionlint.yml"], read)

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        # The shellcheck and pyflakes passes over `run:` scripts stay off: `${{ }}` substitutions make
        # them noisy, and shell scripts of their own are linted by the shellcheck analyzer.
        cmd = [find_binary(self.binary), "-format", "{{json .}}", "-shellcheck=", "-pyflakes=", *paths]
        data = json.loads(run_tool(cmd, root) or "[]")
        return [
            Diagnostic(path=str(d["filepath"]), line=int(d["line"]), rule=str(d.get("kind") or "actionlint"),
                       message=f"{d.get('kind')}: {d['message']}", severity=Severity.WARNING)
            for d in data or []
        ]  # fmt: skip


class YamllintAnalyzer(LinterAnalyzer):
    """Only for repositories that configure yamllint: YAML style is a project's choice, not ours."""

    id = "yamllint"
    rule_prefix = "yamllint"
    CONFIGS = (".yamllint", ".yamllint.yaml", ".yamllint.yml")

    def wants(self, changed: ChangedFile, ctx: AnalysisContext) -> bool:
        return changed.path.endswith((".yaml", ".yml"))

    def config_paths(self, paths: Sequence[str], read: Callable[[str], str | None]) -> dict[str, str]:
        return _first_present(self.CONFIGS, read)

    def enabled_by(self, configs: dict[str, str]) -> bool:
        return bool(configs)

    def lint(self, root: Path, paths: list[str], lines: dict[str, list[str]]) -> list[Diagnostic]:
        from yamllint import linter
        from yamllint.config import YamlLintConfig

        config_file = next(root / name for name in self.CONFIGS if (root / name).is_file())
        config = YamlLintConfig(content=config_file.read_text(encoding="utf-8"))
        levels = {"error": Severity.WARNING, "warning": Severity.INFO}
        out: list[Diagnostic] = []
        for path in paths:
            if config.is_file_ignored(path) or not config.is_yaml_file(path):
                continue
            text = (root / path).read_text(encoding="utf-8")
            for problem in linter.run(text, config, path):
                rule = problem.rule or "syntax"
                out.append(Diagnostic(path=path, line=problem.line, rule=rule, message=f"{rule}: {problem.desc}",
                                      severity=levels.get(str(problem.level), Severity.INFO)))  # fmt: skip
        return out
