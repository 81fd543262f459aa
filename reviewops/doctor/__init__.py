"""`reviewops doctor`: checks a running installation end to end and says, per check, what is wrong and the fix.

Each check returns one `Result`; a failed check never stops the others (a broken database says nothing about
the App), except where one depends on another's answer (no App, no installations to list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from reviewops.settings import Settings


@dataclass(frozen=True)
class Result:
    """One check's outcome: `detail` says what was found; `fix` says what to do when it is not ok."""

    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.check}: {self.detail}"
        return f"FAIL  {self.check}: {self.detail}\n      fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_all(settings: Settings) -> list[Result]:
    """Every check, in the order a new installation gets them right (the Going live guide's order)."""
    from reviewops.doctor import checks, github

    results = [*checks.configuration(settings), checks.database(settings)]
    results += [checks.redis_reachable(settings), checks.workers(settings)]
    results += github.app_checks(settings)
    results.append(checks.llm(settings))
    return results
