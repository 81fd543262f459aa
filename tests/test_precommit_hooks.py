"""`.pre-commit-hooks.yaml` run by the real pre-commit against throw-away repositories: the verdict follows
the staged content (never the working tree), the credential is never printed, no LLM is called.

pre-commit installs this package into a hook environment from a clone of this repository; pre-commit-uv
(pinned in the test extras) makes that install take ~30 s instead of ~2.5 min with pip on the CI machine.
The environment is built once per module (a shared PRE_COMMIT_HOME); `try-repo` builds its own once more.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.git_repos import init_repo

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
KEY_LINE = f'API_TOKEN = "{TOKEN}"\n'
CLEAN = "def add(a, b):\n    return a + b\n"

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs this project's git checkout"),
]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=120, env=env
    ).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this repository with the working tree's changes committed (what `try-repo` does), so the
    hooks under test are the ones on disk, committed or not."""
    shadow = tmp_path_factory.mktemp("hooks") / "shadow"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(shadow)], check=True, timeout=300)
    env = dict(
        os.environ,
        GIT_INDEX_FILE=str(shadow / _git(shadow, "rev-parse", "--git-path", "index")),
        GIT_OBJECT_DIRECTORY=str(shadow / _git(shadow, "rev-parse", "--git-path", "objects")),
    )
    _git(ROOT, "add", "-A", env=env)
    _git(
        shadow,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "tree",
        "--allow-empty",
    )
    _git(shadow, "reset", "-q", "--hard")
    return shadow, _git(shadow, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def fake_llm() -> Iterator[object]:
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI() as llm:
        yield llm


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A throw-away repository with no commit yet."""
    repo = tmp_path / "work"
    init_repo(repo)
    return repo


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "PRE_COMMIT"))}
    env.update(PRE_COMMIT_HOME=str(home), **extra)
    return env


def _pre_commit(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )


def _hook(
    work: Path, hook_repo: tuple[Path, str], home: Path, hook: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`pre-commit run` with a config naming only `hook` (with `args`), kept outside the work repository
    so pre-commit does not ask for it to be staged."""
    shadow, rev = hook_repo
    entry: dict[str, object] = {"id": hook, **({"args": list(args)} if args else {})}
    config = work.parent / "pre-commit-config.yaml"
    config.write_text(yaml.safe_dump({"repos": [{"repo": str(shadow), "rev": rev, "hooks": [entry]}]}))
    return _pre_commit(work, _env(home, **env), "run", "--verbose", "-c", str(config), hook)


def _stage(work: Path, name: str, text: str) -> None:
    (work / name).write_text(text)
    _git(work, "add", name)


def test_try_repo_fails_on_a_staged_key_without_printing_it(
    work: Path, hook_repo: tuple[Path, str], tmp_path: Path
) -> None:
    shadow, rev = hook_repo
    _stage(work, "settings.py", CLEAN + KEY_LINE)
    proc = _pre_commit(
        work, _env(tmp_path / "home"), "try-repo", str(shadow), "reviewops-secrets", "--ref", rev
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "settings.py:3: error:" in out and "[secrets/github-pat]" in out
    assert TOKEN not in out


def test_clean_change_passes(work: Path, hook_repo: tuple[Path, str], pre_commit_home: Path) -> None:
    _stage(work, "app.py", CLEAN)
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops-secrets")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ReviewOps secrets" in proc.stdout and "Passed" in proc.stdout


def test_staged_key_removed_in_the_working_tree_still_fails(
    work: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    _stage(work, "app.py", CLEAN + KEY_LINE)
    (work / "app.py").write_text(CLEAN)  # the commit would still carry the key
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops-secrets")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "app.py:3: error:" in proc.stdout and "[secrets/github-pat]" in proc.stdout
    assert TOKEN not in proc.stdout + proc.stderr
    assert (work / "app.py").read_text() == CLEAN  # pre-commit puts the unstaged edit back


def test_clean_stage_with_an_unstaged_key_passes(
    work: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    _stage(work, "app.py", CLEAN)
    (work / "app.py").write_text(CLEAN + KEY_LINE)  # not part of the commit
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops-secrets")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_review_hook_runs_the_deterministic_analyzers_only_and_honours_the_config(
    work: Path, hook_repo: tuple[Path, str], pre_commit_home: Path, fake_llm: object
) -> None:
    llm_env = {"REVIEWOPS_LLM_BASE_URL": fake_llm.url, "REVIEWOPS_LLM_MODEL": "m"}  # type: ignore[attr-defined]
    _stage(work, "debug.js", "function f() {\n  debugger;\n  return 1;\n}\n")
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops", **llm_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a warning: below the default fail-on error
    assert "debug.js:2: warning:" in proc.stdout
    strict = ("--fail-on", "warning")  # a user's `args:` come after the hook's entry and win
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops", *strict, **llm_env)
    assert proc.returncode == 1 and "[hygiene/debug-debugger]" in proc.stdout
    assert fake_llm.requests == []  # type: ignore[attr-defined]
    # .reviewops.yaml from HEAD: once committed, its disabled analyzers stay out of the hook.
    _git(work, "reset", "-q")
    _stage(work, ".reviewops.yaml", "analyzers: {disabled: [hygiene]}\n")
    _git(work, "commit", "-qm", "config", "--no-verify")
    _stage(work, "debug.js", "function f() {\n  debugger;\n  return 1;\n}\n")
    proc = _hook(work, hook_repo, pre_commit_home, "reviewops", *strict, **llm_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
