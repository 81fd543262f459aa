"""`reviewops review`: the same analyzers as the GitHub pipeline, on a patch file, a git range or the staged change."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reviewops.analysis.config import CONFIG_PATH
from reviewops.cli.common import settings_or_exit
from reviewops.telemetry.logging import configure_logging

if TYPE_CHECKING:
    from reviewops.analysis.engine import ReviewResult

# The analyzers (Betterleaks, pydantic models) load inside the command, so `reviewops --help` and the
# other commands do not pay for them.


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def selected_analyzers(analyzers: str | None) -> dict[str, bool] | None:
    """`--analyzers a,b` as the on/off map build_analyzers takes; None (all) when not given."""
    from reviewops.analysis.analyzers import REGISTRY

    if analyzers is None:
        return None
    wanted = [a.strip() for a in analyzers.split(",") if a.strip()]
    unknown = [a for a in wanted if a not in REGISTRY]
    if unknown or not wanted:
        raise _fail(
            f"--analyzers: unknown analyzer {unknown[0]!r}; choose from {', '.join(REGISTRY)}"
            if unknown
            else "--analyzers: name at least one analyzer"
        )
    return {name: name in wanted for name in REGISTRY}


def _enabled_without_llm(enabled: dict[str, bool] | None) -> dict[str, bool]:
    """`--no-llm`: the selection with the LLM-backed analyzers (reviewer, QA checklist) switched off."""
    from reviewops.analysis.analyzers import LLM_BACKED, REGISTRY

    chosen = enabled if enabled is not None else dict.fromkeys(REGISTRY, True)
    asked = sorted(a for a in LLM_BACKED if enabled is not None and chosen.get(a))
    if asked:
        raise _fail(f"--no-llm: {asked[0]!r} is LLM-backed; drop it from --analyzers or drop --no-llm")
    return {name: on and name not in LLM_BACKED for name, on in chosen.items()}


def _check_diff(diff: Path, files: list[Any], read_head: Callable[[str], str | None], repo: Path) -> None:
    """A CI gate given the wrong file must not go green: a file with no file changes (empty, a README, a
    binary) is refused, and files of the diff missing from the working tree are named (the analyzers
    that read whole files skip them)."""
    from reviewops.analysis.local import LocalSourceError

    if not files:
        raise LocalSourceError(f"--diff: {diff} is not a unified diff (no file changes found in it)")
    missing = [f.path for f in files if f.status != "removed" and read_head(f.path) is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        typer.echo(
            f"warning: {len(missing)} file(s) of the diff are not in the working tree {repo}: {shown}; "
            "analyzers that read whole files skip them (use --repo, or run from the repository's root)",
            err=True,
        )


def review_local(
    repo: Path,
    *,
    diff: Path | None = None,
    git: str | None = None,
    staged: bool = False,
    config: Path | None = None,
    enabled: dict[str, bool] | None = None,
    no_llm: bool = False,
) -> ReviewResult:
    """Load the local source and run the analyzers: what `reviewops review` and the GitHub Action share.

    Raises LocalSourceError/DiffParseError for bad input (the caller words the exit)."""
    from reviewops.analysis.analyzers import build_analyzers
    from reviewops.analysis.config import parse_repo_config
    from reviewops.analysis.engine import run_review
    from reviewops.analysis.llm.settings import LLMSettings
    from reviewops.analysis.local import LocalSourceError, load_local
    from reviewops.analysis.model import AnalysisContext

    settings = settings_or_exit()
    # stdout carries the report (JSON/SARIF are parsed by tools): logs go to stderr, warnings and up.
    configure_logging("DEBUG" if settings.log_level == "DEBUG" else "WARNING", stream=sys.stderr)
    try:
        source = load_local(repo, diff=diff, git=git, config=config, staged=staged)
    except (OSError, UnicodeDecodeError) as exc:  # --config unreadable (a directory, no permission, binary)
        raise LocalSourceError(f"--config: cannot read {config}: {exc}") from None
    if diff is not None:
        _check_diff(diff, source.files, source.read_head, repo)
    repo_config = parse_repo_config(source.config_text)
    if config is not None and repo_config.errors:  # a config asked for by name must be right
        problems = "; ".join(e.removeprefix(f"{CONFIG_PATH}: ") for e in repo_config.errors)
        raise LocalSourceError(f"--config: {config}: {problems}")
    llm = LLMSettings.from_settings(settings)
    ctx = AnalysisContext(
        files=source.files, title=source.title, config=repo_config, read_head=source.read_head,
        read_base=source.read_base,
    )  # fmt: skip
    # Without an LLM configured the reviewer is left out, unless asked for by name (then it says why not).
    use_llm = not no_llm and (llm.configured or bool(enabled and enabled.get("llm")))
    return run_review(ctx, build_analyzers(enabled, repo_config, llm if use_llm else None))


def at_or_above(result: ReviewResult, fail_on: str) -> int:
    """How many findings reach the --fail-on severity (the exit status is 1 when any do)."""
    from reviewops.analysis.model import Severity

    threshold = Severity.parse(fail_on)
    return sum(1 for f in result.findings if f.severity >= threshold)


def render(result: ReviewResult, output: OutputFormat) -> str:
    from reviewops.analysis.output import to_json, to_sarif, to_text

    return {OutputFormat.text: to_text, OutputFormat.json: to_json, OutputFormat.sarif: to_sarif}[output](
        result
    )


def review(
    diff: Annotated[
        Path | None, typer.Option("--diff", help="A unified diff / patch file ('-' reads stdin).")
    ] = None,
    git: Annotated[
        str | None, typer.Option("--git", help="A git range BASE..HEAD (or BASE...HEAD from the merge base).")
    ] = None,
    staged: Annotated[
        bool,
        typer.Option(
            "--staged",
            help="The staged change (git diff --cached), files read from the index: a pre-commit hook.",
        ),
    ] = False,
    repo: Annotated[
        Path, typer.Option(help="Repository (--git/--staged) or working tree (--diff) root.")
    ] = Path("."),
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
    ] = FailOn.error,
    analyzers: Annotated[
        str | None, typer.Option("--analyzers", help="Comma-separated analyzer ids (default: all).")
    ] = None,
    no_llm: Annotated[
        bool,
        typer.Option("--no-llm", help="Leave out the LLM-backed analyzers even when an LLM is configured."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help=f"Repo config (default: {CONFIG_PATH} from BASE for --git, HEAD for --staged, else ./).",
        ),
    ] = None,
) -> None:
    """Review a patch, a git range or the staged change locally and print the findings; exit 1 at --fail-on."""
    from reviewops.analysis.diff import DiffParseError
    from reviewops.analysis.local import ONE_SOURCE, LocalSourceError

    if sum((diff is not None, git is not None, staged)) != 1:
        raise _fail(ONE_SOURCE)
    enabled = selected_analyzers(analyzers)
    if no_llm:
        enabled = _enabled_without_llm(enabled)
    if not repo.is_dir():
        raise _fail(f"--repo: no such directory {repo}")
    if config is not None and not config.is_file():
        raise _fail(f"--config: no such file {config}")
    try:
        result = review_local(
            repo, diff=diff, git=git, staged=staged, config=config, enabled=enabled, no_llm=no_llm
        )
    except (LocalSourceError, DiffParseError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(render(result, output))
    if at_or_above(result, fail_on.value):
        raise typer.Exit(1)


# `python -m reviewops.cli.review`: the pre-commit hooks skip importing the other commands (~2x faster start).
if __name__ == "__main__":
    typer.run(review)
