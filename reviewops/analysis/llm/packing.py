"""Choosing what the LLM sees: files ranked by risk and packed into the prompt token budget.

Each file is rendered with new-side line numbers ("  12 + code") so the model can name real lines, and
secrets are redacted before anything leaves the process.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from reviewops.analysis.config import instructions_for
from reviewops.analysis.llm.client import estimate_tokens
from reviewops.analysis.model import ChangedFile, RepoConfig
from reviewops.analysis.paths import SOURCE, is_test_path
from reviewops.credentials.redaction import redact_lines

GENERATED_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "Cargo.lock",
     "go.sum", "composer.lock", "Gemfile.lock", "Pipfile.lock"}
)  # fmt: skip
DOC_EXTS = (".md", ".rst", ".txt", ".adoc")
CONFIG_EXTS = (".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".tf", ".sql", ".sh", ".dockerfile")
RISKY_WORDS = ("auth", "security", "crypto", "password", "token", "permission", "payment", "migration", "sql")


def is_generated(path: str) -> bool:
    name = posixpath.basename(path)
    return name in GENERATED_NAMES or name.endswith((".min.js", ".min.css", ".map", ".snap", ".lock"))


def risk(changed: ChangedFile) -> float:
    """Higher first: changed lines weighted by kind of file, sensitive areas boosted."""
    path = changed.path.lower()
    if path.endswith(SOURCE):
        weight = 0.6 if is_test_path(changed.path) else 1.0
    elif path.endswith(CONFIG_EXTS) or posixpath.basename(path) == "dockerfile":
        weight = 0.8
    elif path.endswith(DOC_EXTS):
        weight = 0.2
    else:
        weight = 0.5
    if any(word in path for word in RISKY_WORDS):
        weight *= 1.5
    return (changed.additions + changed.deletions + 1) * weight


def render_file(changed: ChangedFile, config: RepoConfig) -> str:
    header = f"### {changed.path} ({changed.status}"
    if changed.previous_path:
        header += f", was {changed.previous_path}"
    header += ")"
    out = [header]
    for note in instructions_for(config, changed.path):
        out.append(f"Repository instructions for this file: {note}")
    for hunk in changed.hunks:
        out.append(f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},{hunk.new_length} @@")
        removed = sorted(hunk.removed.items())
        new_lines = sorted([*((n, "+", t) for n, t in hunk.added.items()),
                            *((n, " ", t) for n, t in hunk.context.items())])  # fmt: skip
        # Whole hunks through the gate, so a private key's body lines go with its BEGIN line.
        old_clean = redact_lines([t for _n, t in removed], changed.path)
        new_clean = redact_lines([t for _n, _m, t in new_lines], changed.path)
        out.extend(f"     - {text}" for text in old_clean)
        out.extend(f"{n:>5} {mark} {text}" for (n, mark, _t), text in zip(new_lines, new_clean, strict=True))
    return "\n".join(out)


@dataclass
class Packed:
    files: list[ChangedFile]
    rendered: list[str]
    left_out: list[str]  # paths not reviewed (budget)
    skipped: list[str]  # paths not worth reviewing (binary, removed, generated)
    tokens: int


def pack(files: list[ChangedFile], config: RepoConfig, budget: int) -> Packed:
    """Greedy by risk: take each file that still fits; bigger files that do not fit are left out."""
    packed = Packed([], [], [], [], 0)
    candidates = []
    for changed in files:
        if not changed.analyzable or not changed.hunks or is_generated(changed.path):
            packed.skipped.append(changed.path)
        else:
            candidates.append(changed)
    for changed in sorted(candidates, key=lambda f: (-risk(f), f.path)):
        text = render_file(changed, config)
        cost = estimate_tokens(text)
        if packed.tokens + cost > budget:
            packed.left_out.append(changed.path)
            continue
        packed.files.append(changed)
        packed.rendered.append(text)
        packed.tokens += cost
    return packed
