"""Unified diffs into `ChangedFile`s with line numbers, so every finding can be checked against the hunks.

Two inputs: GitHub's per-file `patch` field (hunks only, no file headers) and a whole `git diff` (for the
local `reviewops review`). Both go through unidiff; CRLF line endings are kept out of the line texts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from unidiff import PatchedFile, PatchSet
from unidiff.constants import DEV_NULL
from unidiff.errors import UnidiffParseError

from reviewops.analysis.model import ChangedFile, Hunk

log = logging.getLogger(__name__)


class DiffParseError(ValueError):
    """The text is not a unified diff (names the file when known)."""


def _strip_eol(value: str) -> str:
    return value.rstrip("\r\n")


def _hunks(patched: PatchedFile) -> tuple[Hunk, ...]:
    hunks: list[Hunk] = []
    for raw in patched:
        added: dict[int, str] = {}
        removed: dict[int, str] = {}
        context: dict[int, str] = {}
        for line in raw:
            if line.is_added and line.target_line_no is not None:
                added[line.target_line_no] = _strip_eol(line.value)
            elif line.is_removed and line.source_line_no is not None:
                removed[line.source_line_no] = _strip_eol(line.value)
            elif line.is_context and line.target_line_no is not None:
                context[line.target_line_no] = _strip_eol(line.value)
        hunks.append(
            Hunk(
                old_start=raw.source_start,
                old_length=raw.source_length,
                new_start=raw.target_start,
                new_length=raw.target_length,
                added=added,
                removed=removed,
                context=context,
            )
        )
    return tuple(hunks)


def _normalize_patch(patch: str) -> str:
    # unidiff wants every line newline-terminated; GitHub's patch field has no trailing newline.
    return patch if patch.endswith("\n") else patch + "\n"


def parse_patch(
    path: str, patch: str, status: str = "modified", previous_path: str | None = None
) -> ChangedFile:
    """Parse GitHub's per-file `patch` (hunks only) into a ChangedFile."""
    if not patch.strip():
        # GitHub sends an empty patch for renames without changes and mode-only changes.
        return ChangedFile(path=path, status=status, previous_path=previous_path, patch=patch)
    source = previous_path or path
    header = f"--- a/{source}\n+++ b/{path}\n"
    try:
        patch_set = PatchSet(header + _normalize_patch(patch))
    except UnidiffParseError as exc:
        raise DiffParseError(f"{path}: not a unified diff: {exc}") from None
    if len(patch_set) != 1:
        raise DiffParseError(f"{path}: expected one file in the patch, found {len(patch_set)}")
    hunks = _hunks(patch_set[0])
    return ChangedFile(
        path=path,
        status=status,
        previous_path=previous_path,
        patch=patch,
        hunks=hunks,
        additions=sum(len(h.added) for h in hunks),
        deletions=sum(len(h.removed) for h in hunks),
    )


def _status(patched: PatchedFile) -> str:
    if patched.source_file == DEV_NULL:
        return "added"
    if patched.target_file == DEV_NULL:
        return "removed"
    if patched.is_rename:
        return "renamed"
    return "modified"


def _hunk_text(patched: PatchedFile) -> str:
    return "".join(str(hunk) for hunk in patched)


def _clean(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    return path[2:] if path[:2] in ("a/", "b/") else path


def parse_unified_diff(text: str) -> list[ChangedFile]:
    """Parse a whole `git diff` / patch file: renames, binary files, deletions, CRLF, no-newline markers."""
    # unidiff reads a str through StringIO, which splits on "\n" only: a CR stays part of its line.
    try:
        patch_set = PatchSet(text)
    except UnidiffParseError as exc:
        raise DiffParseError(f"not a unified diff: {exc}") from None
    files: list[ChangedFile] = []
    for patched in patch_set:
        status = _status(patched)
        path = _clean(patched.path)
        previous = _clean(patched.source_file) if status == "renamed" else None
        if patched.is_binary_file:
            files.append(ChangedFile(path=path, status=status, previous_path=previous, patch=None))
            continue
        hunks = _hunks(patched)
        files.append(
            ChangedFile(
                path=path,
                status=status,
                previous_path=previous,
                patch=_hunk_text(patched),
                hunks=hunks,
                additions=sum(len(h.added) for h in hunks),
                deletions=sum(len(h.removed) for h in hunks),
            )
        )
    return files


def from_github_file(item: Mapping[str, Any]) -> ChangedFile:
    """One entry of GitHub's "list pull request files" answer. No `patch` (binary, or too large for
    GitHub to diff) or an unparsable one gives `patch=None`: the file is listed, not analyzed."""
    path = str(item["filename"])
    status = str(item.get("status") or "modified")
    previous = item.get("previous_filename")
    patch = item.get("patch")
    additions, deletions = int(item.get("additions") or 0), int(item.get("deletions") or 0)
    if patch is not None:
        try:
            parsed = parse_patch(path, str(patch), status=status, previous_path=previous)
        except DiffParseError:
            log.warning("unparsable patch from GitHub for %s: listed, not analyzed", path)
        else:
            return dataclasses.replace(parsed, additions=additions, deletions=deletions)
    return ChangedFile(
        path=path, status=status, previous_path=previous, additions=additions, deletions=deletions
    )


def line_text(changed: ChangedFile, line: int) -> str | None:
    """The new-side text of a commentable line (added or context), None when outside the diff."""
    for hunk in changed.hunks:
        if line in hunk.added:
            return hunk.added[line]
        if line in hunk.context:
            return hunk.context[line]
    return None


def hunk_of(changed: ChangedFile, line: int) -> Hunk | None:
    """The hunk whose new-side lines include `line` as an added or context line."""
    for hunk in changed.hunks:
        if line in hunk.added or line in hunk.context:
            return hunk
    return None
