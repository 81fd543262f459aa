"""Project-level checks: docs in sync with code, lint and types clean, packaging complete."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def test_readme_settings_table_is_current() -> None:
    from settings_table import END, START, table

    readme = (ROOT / "README.md").read_text()
    assert readme.split(START, 1)[1].split(END, 1)[0].strip() == table().strip(), (
        "run: python scripts/settings_table.py --write"
    )


def test_every_package_is_in_the_distribution() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    remap = {v: k for k, v in config["package-dir"].items()}
    found = set()
    for init in ROOT.glob("**/__init__.py"):
        folder = init.parent.relative_to(ROOT).as_posix()
        if folder.startswith((".venv", "tests", "bench", "build")):
            continue
        for source, package in remap.items():
            if folder == source or folder.startswith(source + "/"):
                folder = package + folder[len(source) :]
        found.add(folder.replace("/", "."))
    assert found == listed
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_ruff_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_ruff_format_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, "run: ruff format .\n" + result.stdout


def test_checkers_are_pinned_exactly() -> None:
    """A new ruff or mypy release must not turn CI red with no code change."""
    test_extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "test"
    ]
    for tool in ("ruff", "mypy", "import-linter"):
        assert any(r.replace(" ", "").startswith(f"{tool}==") for r in test_extras), f"{tool} is not pinned"


def test_license_is_an_spdx_expression() -> None:
    """The `license = {text = ...}` table is deprecated (setuptools warns it stops working in 2027)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "Apache-2.0"
    assert any(
        r.startswith("setuptools>=7") and int(r.split(">=")[1].split(".")[0]) >= 77
        for r in config["build-system"]["requires"]
    )


def test_mypy_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
