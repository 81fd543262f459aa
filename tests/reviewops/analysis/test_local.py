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
