"""`.reviewops.yaml`: per-repository review rules, validated field by field so one typo costs one field.

    paths:
      include: ["src/**"]            # only these paths are reviewed (default: everything)
      exclude: ["**/*.lock", "vendor/**"]
    instructions:                    # extra instructions for the LLM, by path glob
      "api/**": "Every endpoint must check authorization."
    analyzers:
      disabled: [hygiene]            # or a mapping: {hygiene: false}
    severity_threshold: warning      # info | warning | error: below it findings are stored, not posted
    max_comments: 20                 # inline comments per review (1-100)
    secrets:
      allow:                         # for files that cannot carry `pragma: allowlist secret`
        paths: ["tests/vectors/*.json"]       # globs: no secrets findings there
        values: ["^test-key-[0-9]+$"]         # regexes a detected value may match
        fingerprints: ["3f2a..."]             # a finding's fingerprint (CLI --format json)

Globs: `*` and `?` stay inside one path segment, `**` spans segments, and a pattern without `/` matches
the file name in any folder (like .gitignore).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewops.analysis.model import RepoConfig, SecretsAllow, Severity

CONFIG_PATH = ".reviewops.yaml"


class _Paths(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class _Analyzers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: list[str] = Field(default_factory=list)


class _SecretsAllow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)
    fingerprints: list[str] = Field(default_factory=list)

    @field_validator("paths", "values", "fingerprints", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("values")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return value


class _Secrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: _SecretsAllow = Field(default_factory=_SecretsAllow)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: _Paths = Field(default_factory=_Paths)
    instructions: dict[str, str] = Field(default_factory=dict)
    analyzers: _Analyzers = Field(default_factory=_Analyzers)
    severity_threshold: Severity | None = None
    max_comments: int | None = Field(default=None, ge=1, le=100)
    secrets: _Secrets = Field(default_factory=_Secrets)

    @field_validator("instructions", mode="before")
    @classmethod
    def _instruction_list(cls, value: object) -> object:
        # Also accept CodeRabbit's style: [{path: glob, instructions: text}, ...]
        if isinstance(value, list):
            out: dict[str, object] = {}
            for item in value:
                if not isinstance(item, dict) or set(item) != {"path", "instructions"}:
                    raise ValueError("list items need exactly the keys 'path' and 'instructions'")
                out[str(item["path"])] = item["instructions"]
            return out
        return value

    @field_validator("analyzers", mode="before")
    @classmethod
    def _analyzer_map(cls, value: object) -> object:
        # `analyzers: {hygiene: false, secrets: true}` means the same as `disabled: [hygiene]`.
        if isinstance(value, dict) and "disabled" not in value:
            bad = [k for k, v in value.items() if not isinstance(v, bool)]
            if bad:
                raise ValueError(f"expected analyzer: true|false, got {bad[0]!r}")
            return {"disabled": [k for k, v in value.items() if v is False]}
        return value

    @field_validator("severity_threshold", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        if isinstance(value, str):
            return Severity.parse(value)
        if value is not None and not isinstance(value, Severity):
            raise ValueError("expected info, warning or error")
        return value


def _describe(err: Any) -> tuple[str, str]:
    loc = [str(part) for part in err.get("loc", ())]
    field = ".".join(loc) if loc else "config"
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    return (loc[0] if loc else ""), f"{field}: {msg}"


def parse_repo_config(text: str | None) -> RepoConfig:
    """Parse `.reviewops.yaml`; bad fields fall back to defaults and are named in `errors`."""
    if text is None or not text.strip():
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return RepoConfig(errors=(f"{CONFIG_PATH}: invalid YAML{where}",))
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        return RepoConfig(errors=(f"{CONFIG_PATH}: expected a mapping at the top level",))
    errors: list[str] = []
    data = {str(k): v for k, v in data.items()}
    model: _Config | None = None
    for _ in range(len(data) + 1):
        try:
            model = _Config.model_validate(data)
            break
        except ValidationError as exc:
            for err in exc.errors():
                top, message = _describe(err)
                errors.append(message)
                data.pop(top, None)
    if model is None:  # pragma: no cover - every failing key is dropped, so the loop ends valid
        model = _Config()
    return RepoConfig(
        include=tuple(model.paths.include),
        exclude=tuple(model.paths.exclude),
        instructions=dict(model.instructions),
        disabled_analyzers=frozenset(model.analyzers.disabled),
        severity_threshold=model.severity_threshold,
        max_comments=model.max_comments,
        errors=tuple(errors),
        secrets_allow=SecretsAllow(
            paths=tuple(model.secrets.allow.paths),
            values=tuple(model.secrets.allow.values),
            fingerprints=frozenset(model.secrets.allow.fingerprints),
        ),
    )


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob (`*`, `?`, `[...]`, `**`) to a regex over POSIX paths."""
    pattern = pattern.strip().lstrip("/")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):
        pattern += "**"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    # A pattern naming a folder also covers everything below it.
    return re.compile("".join(out) + "(?:/.*)?")


def path_matches(pattern: str, path: str) -> bool:
    return glob_regex(pattern).fullmatch(path) is not None


def path_included(config: RepoConfig, path: str) -> bool:
    """True when `path` passes the include globs (if any) and no exclude glob."""
    if config.include and not any(path_matches(p, path) for p in config.include):
        return False
    return not any(path_matches(p, path) for p in config.exclude)


def instructions_for(config: RepoConfig, path: str) -> list[str]:
    """The per-path LLM instructions whose glob matches `path`, in file order."""
    return [text for glob, text in config.instructions.items() if path_matches(glob, path)]
