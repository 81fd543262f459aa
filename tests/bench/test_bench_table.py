"""scripts/bench_table.py renders latest.json into the README block between the markers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_table import END, START, render, write

DATA = {
    "machine": {"python": "3.12.1", "cpus": 2, "machine": "x86_64", "system": "Linux 6.1"},
    "quick": False,
    "rows": [
        {"benchmark": "ratelimit", "metric": "one check, p50", "reviewops": 60.0, "baseline": 50.0,
         "unit": "us", "target": "< 1.5x", "passed": True, "notes": "a|b", "ratio": 1.2},
        {"benchmark": "replay", "metric": "rate", "reviewops": 900.0, "baseline": None, "unit": "msg/s",
         "target": "", "passed": None, "notes": "", "ratio": None},
    ],
}  # fmt: skip


def test_render_names_the_machine_and_every_row() -> None:
    text = render(DATA)
    assert "2 CPUs, x86_64, Linux 6.1, Python 3.12.1" in text
    assert "| ratelimit | one check, p50 (us) | 60 | 50 | 1.2 | < 1.5x | yes | a/b |" in text
    assert "| replay | rate (msg/s) | 900 | - | - | - | - |  |" in text


def test_write_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\nbefore\n{START}\nold\n{END}\nafter\n")
    write(readme, "new table")
    assert readme.read_text() == f"# T\n\nbefore\n{START}\nnew table\n{END}\nafter\n"


def test_write_refuses_a_readme_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# T\n")
    with pytest.raises(SystemExit, match="markers"):
        write(readme, "x")
