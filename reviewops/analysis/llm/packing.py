"""Choosing what the LLM sees: files ranked by risk, split by file and hunk into parts that fit the prompt.

Each file is rendered with new-side line numbers ("  12 + code") so the model can name real lines, and
secrets are redacted before anything leaves the process. A diff larger than one prompt is not cut: it is
split into parts (whole files where they fit, else runs of hunks, else slices of one long hunk), each part
small enough for the context window with room left for the answer. Parts beyond the configured most are
named as not reviewed, never dropped silently.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from reviewops.analysis.config import instructions_for
from reviewops.analysis.llm.limits import estimate_tokens
from reviewops.analysis.model import ChangedFile, Hunk, RepoConfig
from reviewops.analysis.paths import SOURCE, is_test_path
from reviewops.credentials.redaction import redact_lines

GENERATED_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "Cargo.lock",
     "go.sum", "composer.lock", "Gemfile.lock", "Pipfile.lock"}
)  # fmt: skip
DOC_EXTS = (".md", ".rst", ".txt", ".adoc")
CONFIG_EXTS = (".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".tf", ".sql", ".sh", ".dockerfile")
RISKY_WORDS = ("auth", "security", "crypto", "password", "token", "permission", "payment", "migration", "sql")
MIN_PART_TOKENS = 256  # below this a prompt has no room for code: the context is too small to review in


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


def _header(changed: ChangedFile, config: RepoConfig) -> str:
    header = f"### {changed.path} ({changed.status}"
    if changed.previous_path:
        header += f", was {changed.previous_path}"
    out = [header + ")"]
    for note in instructions_for(config, changed.path):
        out.append(f"Repository instructions for this file: {note}")
    return "\n".join(out)


def _hunk_lines(path: str, hunk: Hunk) -> list[str]:
    out = [f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},{hunk.new_length} @@"]
    removed = sorted(hunk.removed.items())
    new_lines = sorted([*((n, "+", t) for n, t in hunk.added.items()),
                        *((n, " ", t) for n, t in hunk.context.items())])  # fmt: skip
    # Whole hunks through the gate, so a private key's body lines go with its BEGIN line.
    old_clean = redact_lines([t for _n, t in removed], path)
    new_clean = redact_lines([t for _n, _m, t in new_lines], path)
    out.extend(f"     - {text}" for text in old_clean)
    out.extend(f"{n:>5} {mark} {text}" for (n, mark, _t), text in zip(new_lines, new_clean, strict=True))
    return out


def render_file(changed: ChangedFile, config: RepoConfig) -> str:
    return "\n".join([_header(changed, config), *(line for h in changed.hunks for line in _hunk_lines(
        changed.path, h))])  # fmt: skip


def _slices(lines: list[str], budget: int) -> list[list[str]]:
    """Texts (a hunk's lines, or hunk blocks) in runs that each fit `budget` (an over-long one stands alone)."""
    out: list[list[str]] = [[]]
    cost = 0
    for line in lines:
        line_cost = estimate_tokens(line + "\n")
        if out[-1] and cost + line_cost > budget:
            out.append([])
            cost = 0
        out[-1].append(line)
        cost += line_cost
    return out


def file_pieces(changed: ChangedFile, config: RepoConfig, budget: int) -> list[str]:
    """The file as one text when it fits `budget`, else as consecutive pieces by hunk (and within a hunk)."""
    whole = render_file(changed, config)
    if estimate_tokens(whole) <= budget:
        return [whole]
    header = _header(changed, config)
    room = max(1, budget - estimate_tokens(header + "\n") - 8)
    blocks: list[str] = []
    for hunk in changed.hunks:
        for n, run in enumerate(_slices(_hunk_lines(changed.path, hunk), room)):
            blocks.append("\n".join(run if n == 0 else ["(this hunk continued)", *run]))
    pieces = _slices(blocks, room)  # hunk blocks packed into pieces the same way lines are packed into blocks
    total = len(pieces)
    return [f"{header}\n(piece {i} of {total} of this file's diff)\n" + "\n".join(p)
            for i, p in enumerate(pieces, 1)]  # fmt: skip


@dataclass
class Part:
    """One prompt's worth of the diff."""

    files: list[ChangedFile] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    tokens: int = 0

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


@dataclass
class Plan:
    parts: list[Part]
    left_out: list[str]  # paths not reviewed: beyond the most parts
    skipped: list[str]  # paths not worth reviewing (binary, removed, generated)
    budget: int  # tokens of diff per part

    @property
    def files(self) -> list[ChangedFile]:
        seen: dict[str, ChangedFile] = {}
        for part in self.parts:
            for changed in part.files:
                seen.setdefault(changed.path, changed)
        return list(seen.values())


def plan(files: list[ChangedFile], config: RepoConfig, budget: int, max_parts: int) -> Plan:
    """Parts in risk order: each file (or piece) goes in the first part with room, else opens a new one."""
    result = Plan([], [], [], budget)
    candidates = []
    for changed in files:
        if not changed.analyzable or not changed.hunks or is_generated(changed.path):
            result.skipped.append(changed.path)
        else:
            candidates.append(changed)
    if budget < MIN_PART_TOKENS:
        result.left_out = [c.path for c in candidates]
        return result
    for changed in sorted(candidates, key=lambda f: (-risk(f), f.path)):
        pieces = file_pieces(changed, config, budget)
        placed_all = True
        for text in pieces:
            cost = estimate_tokens(text + "\n\n")
            part = next((p for p in result.parts if p.tokens + cost <= budget), None)
            if part is None and len(result.parts) < max_parts:
                part = Part()
                result.parts.append(part)
            if part is None:
                placed_all = False
                continue
            part.rendered.append(text)
            part.tokens += cost
            if changed not in part.files:
                part.files.append(changed)
        if not placed_all:
            result.left_out.append(changed.path)
    return result


def split_part(part: Part, budget: int) -> list[Part]:
    """A part the endpoint found too long, cut into parts of `budget` (its texts by line; nothing dropped)."""
    texts: list[str] = []
    for text in part.rendered:
        if estimate_tokens(text) <= budget:
            texts.append(text)
            continue
        head, _, rest = text.partition("\n")
        room = max(1, budget - estimate_tokens(head) - 8)
        texts.extend(f"{head}\n(continued)\n" + "\n".join(run) for run in _slices(rest.split("\n"), room))
    parts: list[Part] = []
    for text in texts:
        cost = estimate_tokens(text + "\n\n")
        target = next((p for p in parts if p.tokens + cost <= budget), None)
        if target is None:
            target = Part()
            parts.append(target)
        target.rendered.append(text)
        target.tokens += cost
    for new in parts:
        new.files = [f for f in part.files if any(t.startswith(f"### {f.path} (") for t in new.rendered)]
    return parts
