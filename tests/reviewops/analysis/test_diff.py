"""Diff parsing on real `git diff` output and GitHub-shaped patches: line numbers must be exact, because
every comment is placed by them."""

from __future__ import annotations

import pytest

from reviewops.analysis.diff import DiffParseError, hunk_of, line_text, parse_patch, parse_unified_diff


def _by_path(text: str) -> dict[str, object]:
    return {f.path: f for f in parse_unified_diff(text)}


def test_realworld_diff_statuses(realworld_diff: str) -> None:
    files = {f.path: f for f in parse_unified_diff(realworld_diff)}
    assert set(files) == {
        "docs/logo.png",
        "src/pkg/big.py",
        "src/pkg/eof.py",
        "src/pkg/gone.py",
        "src/pkg/new_name.py",
        "src/pkg/win.py",
    }
    assert files["docs/logo.png"].patch is None and not files["docs/logo.png"].analyzable
    assert files["src/pkg/gone.py"].status == "removed" and not files["src/pkg/gone.py"].analyzable
    renamed = files["src/pkg/new_name.py"]
    assert renamed.status == "renamed" and renamed.previous_path == "src/pkg/old_name.py"


def test_rename_line_numbers(realworld_diff: str) -> None:
    renamed = next(f for f in parse_unified_diff(realworld_diff) if f.path == "src/pkg/new_name.py")
    assert renamed.added_lines() == {10: "line_10 = 10  # changed", 11: "extra = True"}
    (hunk,) = renamed.hunks
    assert hunk.removed == {10: "line_10 = 10"}
    assert sorted(hunk.context) == [7, 8, 9, 12, 13, 14]
    assert hunk.context[12] == "line_11 = 11"  # new-side numbering after the insertion
    assert renamed.commentable_lines() == {7, 8, 9, 10, 11, 12, 13, 14}


def test_deletion_only_file_has_no_commentable_lines(realworld_diff: str) -> None:
    gone = next(f for f in parse_unified_diff(realworld_diff) if f.path == "src/pkg/gone.py")
    assert gone.deletions == 6 and gone.additions == 0
    assert gone.added_lines() == {} and gone.commentable_lines() == set()
    assert gone.hunks[0].removed[1] == "def gone():"


def test_no_newline_at_end_of_file(realworld_diff: str) -> None:
    eof = next(f for f in parse_unified_diff(realworld_diff) if f.path == "src/pkg/eof.py")
    assert eof.added_lines() == {2: "B = 3", 3: "C = 4"}
    assert eof.hunks[0].removed == {2: "B = 2"}
    assert "No newline" not in "".join(eof.added_lines().values())


def test_crlf_lines_lose_the_carriage_return(realworld_diff: str) -> None:
    win = next(f for f in parse_unified_diff(realworld_diff) if f.path == "src/pkg/win.py")
    assert win.added_lines() == {2: "y = 20", 4: "print(y)"}
    assert win.hunks[0].context == {1: "x = 1", 3: "z = 3"}


def test_huge_hunk(realworld_diff: str) -> None:
    big = next(f for f in parse_unified_diff(realworld_diff) if f.path == "src/pkg/big.py")
    assert big.additions == 2000 and big.deletions == 2000
    assert big.added_lines()[2000] == "value_2000 = 4000"
    assert big.hunks[0].removed[1999] == "value_1999 = 1999"


def test_pure_rename_and_new_file() -> None:
    text = (
        "diff --git a/old.txt b/new.txt\n"
        "similarity index 100%\n"
        "rename from old.txt\n"
        "rename to new.txt\n"
        "diff --git a/added.py b/added.py\n"
        "new file mode 100644\n"
        "index 0000000..3b18e51\n"
        "--- /dev/null\n"
        "+++ b/added.py\n"
        "@@ -0,0 +1,2 @@\n"
        "+a = 1\n"
        "+b = 2\n"
    )
    files = {f.path: f for f in parse_unified_diff(text)}
    assert files["new.txt"].status == "renamed" and files["new.txt"].previous_path == "old.txt"
    assert files["new.txt"].hunks == ()
    assert files["added.py"].status == "added" and files["added.py"].added_lines() == {1: "a = 1", 2: "b = 2"}


def test_github_patch_field() -> None:
    # GitHub's `patch`: hunks only, no file headers, no trailing newline.
    patch = "@@ -1,3 +1,4 @@\n import os\n-x = 1\n+x = 2\n+y = 3\n z = 4\n\\ No newline at end of file"
    changed = parse_patch("app/main.py", patch)
    assert changed.added_lines() == {2: "x = 2", 3: "y = 3"}
    assert changed.hunks[0].context == {1: "import os", 4: "z = 4"}
    assert changed.additions == 2 and changed.deletions == 1
    assert line_text(changed, 4) == "z = 4" and line_text(changed, 9) is None
    assert hunk_of(changed, 3) is changed.hunks[0]


def test_github_patch_two_hunks_and_rename() -> None:
    patch = "@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -50,2 +50,3 @@ def f():\n x\n+y\n z"
    changed = parse_patch("new.py", patch, status="renamed", previous_path="old.py")
    assert changed.previous_path == "old.py" and len(changed.hunks) == 2
    assert changed.added_lines() == {1: "A", 51: "y"}
    assert changed.commentable_lines() == {1, 2, 50, 51, 52}
    assert hunk_of(changed, 2) is not hunk_of(changed, 50)


def test_empty_patch_is_a_file_without_hunks() -> None:
    changed = parse_patch("moved.py", "", status="renamed", previous_path="was.py")
    assert changed.hunks == () and changed.analyzable


def test_garbage_patch_names_the_file() -> None:
    with pytest.raises(DiffParseError, match=r"app\.py"):
        parse_patch("app.py", "@@ -1,3 +1,3 @@\n+only one line")


def test_from_github_file_shapes() -> None:
    from reviewops.analysis.diff import from_github_file

    modified = from_github_file(
        {"filename": "a.py", "status": "modified", "additions": 1, "deletions": 1,
         "patch": "@@ -1 +1 @@\n-x = 1\n+x = 2"}
    )  # fmt: skip
    assert modified.added_lines() == {1: "x = 2"} and modified.analyzable
    renamed = from_github_file(
        {"filename": "new.py", "previous_filename": "old.py", "status": "renamed", "additions": 0,
         "deletions": 0}
    )  # fmt: skip
    assert renamed.previous_path == "old.py" and renamed.patch is None and not renamed.analyzable
    binary = from_github_file({"filename": "logo.png", "status": "added", "additions": 0, "deletions": 0})
    assert binary.patch is None
    broken = from_github_file(
        {
            "filename": "big.py",
            "status": "modified",
            "additions": 9,
            "deletions": 0,
            "patch": "@@ -1,9 +1,9 @@\n+x",
        }
    )
    assert broken.patch is None and broken.additions == 9  # listed with GitHub's counts, not analyzed
