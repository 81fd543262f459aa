"""Local sources for `reviewops review`: range parsing and head readers that stay inside the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewops.analysis.local import LocalSourceError, load_local, split_range, tree_reader


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("main..HEAD", ("main", "HEAD", False)), ("origin/main...feature", ("origin/main", "feature", True))],
)
def test_split_range(spec: str, expected: tuple[str, str, bool]) -> None:
    assert split_range(spec) == expected


@pytest.mark.parametrize("spec", ["HEAD", "..HEAD", "main..", "..."])
def test_bad_ranges(spec: str) -> None:
    with pytest.raises(LocalSourceError, match=r"--git: expected BASE\.\.HEAD"):
        split_range(spec)


def test_tree_reader_never_leaves_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\r\n")
    (tmp_path / "outside.txt").write_text("private")
    read = tree_reader(root)
    assert read("pkg/a.py") == "x = 1\n"
    assert read("../outside.txt") is None
    assert read(str(tmp_path / "outside.txt")) is None
    assert read("pkg") is None and read("missing.py") is None


def test_load_local_diff_keeps_crlf_and_reads_config(tmp_path: Path) -> None:
    patch = tmp_path / "c.diff"
    patch.write_bytes(b"--- a/w.py\n+++ b/w.py\n@@ -1 +1,2 @@\n x = 1\r\n+y = 2\r\n")
    (tmp_path / ".reviewops.yaml").write_text("max_comments: 3\n")
    source = load_local(tmp_path, diff=patch, git=None, config=None)
    assert source.files[0].added_lines() == {2: "y = 2"}
    assert source.config_text == "max_comments: 3\n"
    with pytest.raises(LocalSourceError, match="--diff: no such file"):
        load_local(tmp_path, diff=tmp_path / "nope.diff", git=None, config=None)


def test_empty_tree_base_reviews_a_root_commit(tmp_path: Path) -> None:
    import subprocess

    from reviewops.analysis.local import empty_tree, git_range_files

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "root")
    empty = empty_tree(tmp_path)
    files, base, head = git_range_files(tmp_path, f"{empty}..HEAD")
    assert (base, head) == (empty, "HEAD")
    assert [(f.path, f.status, f.added_lines()) for f in files] == [("a.py", "added", {1: "x = 1"})]
    with pytest.raises(LocalSourceError, match="unknown revision"):  # no merge base with a tree
        git_range_files(tmp_path, f"{empty}...HEAD")
