"""The Dockerfile builds one slim, non-root image whose command selects the component (no Docker engine here,
so the file itself is checked against what the chart and the CLI expect)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

from tests.charts.chart import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def stage_instructions() -> dict[str, list[tuple[str, str]]]:
    current = ""  # global ARGs before the first FROM
    out: dict[str, list[tuple[str, str]]] = {current: []}
    for op, rest in instructions():
        if op == "FROM":
            current = rest.partition(" AS ")[2].strip()
            out[current] = []
        out[current].append((op, rest))
    return out


def final_stage() -> list[tuple[str, str]]:
    """The default target's instructions, including those of the stages it is built FROM."""
    by_stage = stage_instructions()
    chain = []
    name = list(by_stage)[-1]
    while name in by_stage:
        chain = by_stage[name] + chain
        name = by_stage[name][0][1].partition(" AS ")[0].strip()
    return chain


def stages() -> dict[str, str]:
    """Stage name -> what it is built FROM."""
    out = {}
    for op, rest in instructions():
        if op == "FROM":
            image, _, name = rest.partition(" AS ")
            out[name.strip()] = image.strip()
    return out


def test_multi_stage_on_a_slim_python() -> None:
    found = stages()
    assert len(found) >= 2 and list(found)[-1] == "runtime", "the default (last) target is the runtime"
    for image in found.values():
        assert image in found or re.match(r"python:\$\{PYTHON_VERSION\}-slim", image), image
    assert "--from=build" in DOCKERFILE


def test_runtime_is_non_root_with_safe_python() -> None:
    stage = final_stage()
    (user,) = [rest for op, rest in stage if op == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    env = " ".join(rest for op, rest in stage if op == "ENV")
    assert "PYTHONSAFEPATH=1" in env and "REVIEWOPS_HOST=0.0.0.0" in env
    assert not any(op == "RUN" and "pip install" in rest for op, rest in stage), (
        "no installs in the runtime stage"
    )


def test_uid_matches_the_chart_security_context() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "charts" / "reviewops" / "values.yaml").read_text())
    (user,) = [rest for op, rest in final_stage() if op == "USER"]
    assert user == f"{values['podSecurityContext']['runAsUser']}:{values['podSecurityContext']['runAsGroup']}"


def test_the_command_selects_the_component() -> None:
    stage = final_stage()
    (entrypoint,) = [json.loads(rest) for op, rest in stage if op == "ENTRYPOINT"]
    assert entrypoint == ["reviewops"]
    from reviewops.cli.main import app

    commands = {c.name for c in app.registered_commands}
    assert {"api", "worker", "migrate"} <= commands
    (cmd,) = [json.loads(rest) for op, rest in stage if op == "CMD"]
    assert cmd[0] in commands


def ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, rest in instructions():
        if op == "COPY" and "--from" not in rest:
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source, patterns), f"{source} is copied but .dockerignore drops it"
    for private in (".git", ".venv", "tests", ".env"):
        assert ignored(private, patterns), private
    assert Path(ROOT / "README.md").is_file()


def test_skaffold_dev_target_exists() -> None:
    import yaml

    docs = [d for d in yaml.safe_load_all((ROOT / "skaffold.yaml").read_text()) if d]
    targets = {
        artifact["docker"].get("target")
        for doc in docs
        for profile in doc.get("profiles", [])
        for artifact in profile.get("build", {}).get("artifacts", [])
    }
    assert targets - {None} <= set(stages())
    assert "dev" in targets
