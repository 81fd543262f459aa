"""`.reviewops.yaml`: valid files, and invalid fields that fall back to defaults with a named error."""

from __future__ import annotations

import pytest

from reviewops.analysis.config import parse_repo_config, path_included, path_matches
from reviewops.analysis.model import RepoConfig, Severity

FULL = """
paths:
  include: ["src/**", "api/**"]
  exclude: ["**/*.lock", "src/vendor/"]
instructions:
  "api/**": "Every endpoint must check authorization."
analyzers:
  disabled: [hygiene]
severity_threshold: warning
max_comments: 12
"""


def test_full_config() -> None:
    config = parse_repo_config(FULL)
    assert config.errors == ()
    assert config.include == ("src/**", "api/**")
    assert config.exclude == ("**/*.lock", "src/vendor/")
    assert config.instructions == {"api/**": "Every endpoint must check authorization."}
    assert config.disabled_analyzers == frozenset({"hygiene"})
    assert config.severity_threshold is Severity.WARNING
    assert config.max_comments == 12


@pytest.mark.parametrize("text", [None, "", "   \n", "# only a comment\n"])
def test_missing_or_empty_config_is_the_default(text: str | None) -> None:
    assert parse_repo_config(text) == RepoConfig()


def test_unknown_severity_names_the_field_and_keeps_the_rest() -> None:
    config = parse_repo_config("severity_threshold: loud\nmax_comments: 5\n")
    assert config.severity_threshold is None
    assert config.max_comments == 5
    assert len(config.errors) == 1
    assert config.errors[0].startswith("severity_threshold: unknown severity 'loud'")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("max_comments: 0", "max_comments"),
        ("max_comments: lots", "max_comments"),
        ("paths: {include: 3}", "paths.include"),
        ("paths: {inclde: ['a']}", "paths.inclde: unknown field"),
        ("colour: blue", "colour: unknown field"),
        ("analyzers: {hygiene: maybe}", "analyzers"),
        ("instructions: [{path: a}]", "instructions"),
        ("severity_threshold: [1]", "severity_threshold: expected info, warning or error"),
    ],
)
def test_bad_field_is_named(text: str, field: str) -> None:
    config = parse_repo_config(text)
    assert any(error.startswith(field) for error in config.errors), config.errors


def test_several_bad_fields_all_reported() -> None:
    config = parse_repo_config("max_comments: -1\nseverity_threshold: loud\nanalyzers: {disabled: [llm]}")
    assert {e.split(":")[0] for e in config.errors} == {"max_comments", "severity_threshold"}
    assert config.disabled_analyzers == frozenset({"llm"})


def test_invalid_yaml_and_wrong_top_level() -> None:
    assert parse_repo_config("a: [1,\n").errors[0].startswith(".reviewops.yaml: invalid YAML at line")
    assert parse_repo_config("- a\n- b\n").errors == (".reviewops.yaml: expected a mapping at the top level",)


def test_alternative_shapes() -> None:
    config = parse_repo_config(
        "analyzers: {hygiene: false, secrets: true}\n"
        "instructions:\n  - {path: 'src/**', instructions: 'Be strict.'}\n"
        "paths: {exclude: docs/}\n"
        "severity_threshold: ERROR\n"
    )
    assert config.errors == ()
    assert config.disabled_analyzers == frozenset({"hygiene"})
    assert config.instructions == {"src/**": "Be strict."}
    assert config.exclude == ("docs/",)
    assert config.severity_threshold is Severity.ERROR


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.lock", "yarn.lock", True),
        ("*.lock", "deep/dir/poetry.lock", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/sub/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("src/**", "src/x/y/a.py", True),
        ("docs/", "docs/guide/intro.md", True),
        ("docs", "docs/guide/intro.md", True),
        ("docs", "src/docs.py", False),
        ("test_?.py", "tests/test_a.py", True),
        ("[ab].py", "c.py", False),
        ("vendor/**", "src/vendor/x.py", False),
    ],
)
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


def test_path_included() -> None:
    config = parse_repo_config(FULL)
    assert path_included(config, "src/app.py")
    assert not path_included(config, "README.md")  # not in include
    assert not path_included(config, "src/vendor/lib.py")  # excluded
    assert not path_included(config, "src/Cargo.lock")
    assert path_included(RepoConfig(), "anything/at/all.txt")
