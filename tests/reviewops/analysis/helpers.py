"""Small builders for review-engine tests: changed files from plain lines, contexts with head content."""

from __future__ import annotations

from reviewops.analysis.diff import parse_patch
from reviewops.analysis.model import AnalysisContext, ChangedFile, RepoConfig


def new_file(path: str, lines: list[str]) -> ChangedFile:
    """A file added by the PR, as GitHub's patch field shows it."""
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
    return parse_patch(path, patch, status="added")


def modified_file(path: str, before: list[str], after: list[str]) -> ChangedFile:
    """A one-hunk modification (difflib), as GitHub's patch field shows it."""
    import difflib

    diff = list(difflib.unified_diff(before, after, lineterm="", n=3))
    return parse_patch(path, "\n".join(diff[2:]), status="modified")


def context(*files: ChangedFile, heads: dict[str, str] | None = None, **kwargs: object) -> AnalysisContext:
    contents = dict(heads or {})
    for changed in files:
        if changed.path not in contents and changed.status == "added":
            contents[changed.path] = "\n".join(
                changed.added_lines()[n] for n in sorted(changed.added_lines())
            )
            contents[changed.path] += "\n"
    config = kwargs.pop("config", RepoConfig())
    return AnalysisContext(
        files=list(files),
        read_head=contents.get,
        config=config,
        **kwargs,  # type: ignore[arg-type]
    )
