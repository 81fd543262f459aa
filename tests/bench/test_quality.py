"""`python -m bench quality`: skips cleanly without the real repositories, keys judgments stably, and judges
precision and failing check runs from the judgments file (a tiny real git repository stands in)."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from bench import quality
from reviewops.analysis.model import Finding, Severity


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_absent_archives_skip_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert quality.main(["--repos", str(tmp_path / "missing")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_key_survives_line_moves_and_whitespace() -> None:
    def finding(line: int, text: str) -> Finding:
        return Finding("shellcheck", "shellcheck/SC2086", "run.sh", line, line, Severity.WARNING, "m",
                       line_content=text)  # fmt: skip

    a = quality.Observed("r", "c" * 40, finding(3, "echo $x"))
    b = quality.Observed("r", "c" * 40, finding(9, "   echo   $x"))
    assert a.key == b.key and a.key.startswith("r:cccccccccccc:run.sh:shellcheck/SC2086:")


def test_precision_and_failing_check_runs_from_judgments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "demo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "d@example.com")
    _git(repo, "config", "user.name", "D")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\nfor f in $(ls *.txt); do cat $f; done\n")
    (repo / "m.py").write_text("def f(:\n")  # a syntax error: fails the check run
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    archives = tmp_path / "archives"
    archives.mkdir()
    with tarfile.open(archives / "demo.tgz", "w:gz") as tar:
        tar.add(repo, arcname="demo")
    judgments = tmp_path / "judgments.json"
    monkeypatch.setattr(quality, "JUDGMENTS", judgments)
    assert quality.main(["--repos", str(archives), "--record"]) == 1  # unjudged findings: target not met
    recorded = json.loads(judgments.read_text())
    assert recorded and all(v["valid"] is None for v in recorded.values())
    for key, entry in recorded.items():
        entry["valid"] = "ruff/" in key  # the syntax error is real, shellcheck's finding judged noise here
    judgments.write_text(json.dumps(recorded))
    capsys.readouterr()
    assert quality.main(["--repos", str(archives)]) == 1  # precision below 90 %
    out = capsys.readouterr().out
    assert "commits whose check run would fail: 1; failed by an invalid (or unjudged) finding: 0" in out
    assert "shellcheck     posted 0/1" in out and "python-lint    posted 1/1" in out
