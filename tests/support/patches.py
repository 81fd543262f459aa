"""A minimal GitHub-`patch` -> Hunk parser for tests (the fake GitHub's 422 check and injected pipelines).

It is deliberately independent of reviewops.analysis.diff, so the fake judges the pipeline by its own rules.
"""

from __future__ import annotations

import re

from reviewops.analysis.model import ChangedFile, Hunk

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_hunks(patch: str | None) -> tuple[Hunk, ...]:
    if not patch:
        return ()
    hunks: list[Hunk] = []
    current: dict[str, dict[int, str]] | None = None
    header: tuple[int, int, int, int] = (0, 0, 0, 0)
    old = new = 0

    def close() -> None:
        if current is not None:
            hunks.append(Hunk(*header, added=current["a"], removed=current["r"], context=current["c"]))

    for line in patch.splitlines():
        match = HUNK_HEADER.match(line)
        if match:
            close()
            o, ol, n, nl = match.groups()
            header = (int(o), int(ol or 1), int(n), int(nl or 1))
            old, new = header[0], header[2]
            current = {"a": {}, "r": {}, "c": {}}
            continue
        if current is None or line.startswith("\\"):
            continue
        if line.startswith("+"):
            current["a"][new] = line[1:]
            new += 1
        elif line.startswith("-"):
            current["r"][old] = line[1:]
            old += 1
        else:
            current["c"][new] = line[1:]
            old += 1
            new += 1
    close()
    return tuple(hunks)


def parse_patch(path: str, patch: str | None, status: str, previous_path: str | None = None) -> ChangedFile:
    hunks = parse_hunks(patch)
    return ChangedFile(
        path=path,
        status=status,
        previous_path=previous_path,
        patch=patch,
        hunks=hunks,
        additions=sum(len(h.added) for h in hunks),
        deletions=sum(len(h.removed) for h in hunks),
    )


def left_lines(patch: str | None) -> set[int]:
    """Old-side lines a LEFT comment may target: removed and context lines."""
    lines: set[int] = set()
    for hunk in parse_hunks(patch):
        lines.update(hunk.removed)
        old = hunk.old_start
        lines.update(range(old, old + hunk.old_length))
    return lines
