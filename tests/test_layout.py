"""The package layout says what the code does: layers hold, modules stay small and say what they own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "reviewops", ROOT / "api", ROOT / "worker", ROOT / "operator"]
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(
        path for folder in SOURCES for path in folder.rglob("*.py") if "migrations" not in path.parts
    )


def test_no_module_imports_one_above_it() -> None:
    """import-linter's contracts in pyproject.toml: the layers, and api/worker/operator independent."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small_and_says_what_it_owns(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name} has over {MAX_LINES} lines: split it"
    if path.name == "__init__.py" and path.parent.name == "routers":
        return  # api/routers is a plain folder of routers, each saying what it serves
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and docstring.strip(), f"{path.relative_to(ROOT)} does not say what it owns"
