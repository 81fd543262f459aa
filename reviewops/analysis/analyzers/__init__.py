"""The analyzer plugins and the registry policies and `.reviewops.yaml` refer to by id."""

from __future__ import annotations

from collections.abc import Mapping

from reviewops.analysis.analyzers.field_linters import (
    ActionlintAnalyzer,
    HadolintAnalyzer,
    ShellcheckAnalyzer,
    YamllintAnalyzer,
)
from reviewops.analysis.analyzers.hygiene import HygieneAnalyzer
from reviewops.analysis.analyzers.python_lint import PythonLintAnalyzer
from reviewops.analysis.analyzers.qa import QAChecklistAnalyzer
from reviewops.analysis.analyzers.secrets import SecretsAnalyzer
from reviewops.analysis.llm.reviewer import LLMAnalyzer
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import Analyzer, RepoConfig

# Default instances; the LLM-backed ones here are unconfigured (build_analyzers makes configured ones).
REGISTRY: dict[str, Analyzer] = {
    "secrets": SecretsAnalyzer(),
    "python-lint": PythonLintAnalyzer(),
    "hygiene": HygieneAnalyzer(),
    "shellcheck": ShellcheckAnalyzer(),
    "hadolint": HadolintAnalyzer(),
    "actionlint": ActionlintAnalyzer(),
    "yamllint": YamllintAnalyzer(),
    "llm": LLMAnalyzer(),
    "qa-checklist": QAChecklistAnalyzer(),
}
LLM_BACKED = frozenset({"llm", "qa-checklist"})


def build_analyzers(
    enabled: Mapping[str, bool] | None, config: RepoConfig, llm: LLMSettings | None
) -> list[Analyzer]:
    """Analyzers in registry order: on unless the tenant policy (`enabled`) or the repo config says off.

    `llm=None` leaves out the LLM reviewer entirely (the QA checklist then uses its heuristic).
    """
    out: list[Analyzer] = []
    for analyzer_id, default in REGISTRY.items():
        if enabled is not None and not enabled.get(analyzer_id, True):
            continue
        if analyzer_id in config.disabled_analyzers:
            continue
        if analyzer_id == "llm":
            if llm is None:
                continue
            out.append(LLMAnalyzer(llm))
        elif analyzer_id == "qa-checklist":
            out.append(QAChecklistAnalyzer(llm))
        else:
            out.append(default)
    return out


__all__ = ["LLM_BACKED", "REGISTRY", "build_analyzers"]
