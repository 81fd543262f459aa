"""`qa-checklist`: what a human should try before approving, from the PR description and the changed
areas. The LLM writes it when available; otherwise (or when it fails) a heuristic does. The checklist
goes to `ctx.qa_checklist` (a list of strings), never to line comments."""

from __future__ import annotations

import json
import posixpath
import re

from pydantic import BaseModel, Field

from reviewops.analysis.llm.client import LLMSkipped, chat_json
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, ChangedFile, Finding
from reviewops.analysis.paths import is_source_path, is_test_path
from reviewops.credentials.detect import redact_line

MAX_ITEMS = 12
CHECKBOX = re.compile(r"^\s*[-*]\s*\[ \]\s*(.+)$", re.MULTILINE)
ISSUE_REF = re.compile(r"\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?)\s+(#\d+)", re.IGNORECASE)
DEPENDENCY_FILES = frozenset({"pyproject.toml", "requirements.txt", "package.json", "go.mod", "Cargo.toml",
                              "Gemfile", "pom.xml", "build.gradle", "setup.py", "setup.cfg"})  # fmt: skip
DEPLOY_HINTS = ("dockerfile", "helm", "chart", "k8s", ".github/workflows", "deploy", "terraform")
SECURITY_HINTS = ("auth", "login", "password", "token", "permission", "secret", "crypto", "session")

QA_PROMPT = """You write a short QA checklist for the human reviewer of a pull request: concrete things
to try or verify before approving, based on the description and the changed files. At most 10 items,
each one sentence. Answer with exactly one JSON object: {"checklist": ["...", "..."]}"""


class QAAnswer(BaseModel):
    checklist: list[str] = Field(max_length=50)


def _area(path: str) -> str:
    return path.split("/", 1)[0]


def heuristic_checklist(ctx: AnalysisContext) -> list[str]:
    items: list[str] = []
    for box in CHECKBOX.findall(ctx.body):
        items.append(f"From the description: {box.strip()}")
    for ref in dict.fromkeys(ISSUE_REF.findall(ctx.body)):
        items.append(f"Reproduce the problem of {ref} and confirm this change fixes it.")
    files: list[ChangedFile] = list(ctx.files)
    paths = [f.path for f in files]
    areas = sorted({_area(f.path) for f in files if is_source_path(f.path)})
    if areas:
        items.append(f"Exercise the changed behaviour in {', '.join(f'`{a}`' for a in areas[:5])}.")
    if any("migration" in p.lower() for p in paths):
        items.append("Run the database migration up and down on a copy of real data.")
    if any(posixpath.basename(p) in DEPENDENCY_FILES or "requirements" in p for p in paths):
        items.append("Check the dependency changes: versions, licences, and that the lock file matches.")
    if any(h in p.lower() for p in paths for h in DEPLOY_HINTS):
        items.append("Deploy to a staging environment and check the deployment/CI changes work.")
    if any(h in p.lower() for p in paths for h in SECURITY_HINTS):
        items.append("Check authentication and authorization paths, including the failure cases.")
    if any(re.search(r"(^|/)(api|routers?|routes|endpoints|handlers)/", p) for p in paths):
        items.append("Check API compatibility for existing clients (request/response shapes, status codes).")
    removed = [f.path for f in files if f.status == "removed"]
    if removed:
        items.append(f"Make sure nothing still uses the removed files ({', '.join(removed[:3])}).")
    if any(is_source_path(p) for p in paths) and not any(is_test_path(p) for p in paths):
        items.append("No tests changed: decide whether the change needs new or updated tests.")
    if any(p.endswith((".md", ".rst")) for p in paths):
        items.append("Proofread the documentation changes against the new behaviour.")
    items.append("Run the full test suite and check CI is green.")
    return [redact_line("PR.md", item) for item in dict.fromkeys(items)][:MAX_ITEMS]


def _qa_prompt(ctx: AnalysisContext) -> str:
    rows = [f"- {f.path} ({f.status}, +{f.additions} -{f.deletions})" for f in list(ctx.files)[:200]]
    body = "\n".join(redact_line("PR.md", line) for line in ctx.body[:3000].splitlines())
    title = redact_line("PR.md", ctx.title)
    listing = "\n".join(rows)
    return f"Title: {title}\n\nDescription:\n{body or '(none)'}\n\nChanged files:\n{listing}"


def _mock(ctx: AnalysisContext) -> str:
    return json.dumps({"checklist": ["[mock LLM] " + item for item in heuristic_checklist(ctx)]})


class QAChecklistAnalyzer:
    id = "qa-checklist"
    uses_llm = True

    def __init__(self, settings: LLMSettings | None = None) -> None:
        self.settings = settings or LLMSettings()

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        checklist: list[str] | None = None
        source = "heuristic"
        if ctx.llm_allowed and self.settings.configured:
            messages = [
                {"role": "system", "content": QA_PROMPT},
                {"role": "user", "content": _qa_prompt(ctx)},
            ]
            try:
                answer = chat_json(self.settings, messages, QAAnswer, ctx.usage, mock=lambda: _mock(ctx))
                cleaned = [redact_line("PR.md", i.strip()) for i in answer.checklist if i.strip()]
                if cleaned:
                    checklist, source = cleaned[:MAX_ITEMS], "llm"
            except LLMSkipped:
                checklist = None
        if checklist is None:
            checklist = heuristic_checklist(ctx)
        ctx.qa_checklist = checklist
        ctx.qa_checklist_source = source
        return []
