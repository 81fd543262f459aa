"""Throw-away git repositories for the tests of the local review, the hooks and the Action."""

from __future__ import annotations

import subprocess
from pathlib import Path


def init_repo(path: Path, branch: str = "main") -> Path:
    """`path` created as an empty repository (no commit yet) with a committer identity set."""
    path.mkdir()
    for args in (("init", "-q", "-b", branch), ("config", "user.email", "dev@example.com"),
                 ("config", "user.name", "Dev")):  # fmt: skip
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, timeout=60)
    return path
