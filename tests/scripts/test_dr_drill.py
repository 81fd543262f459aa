"""The disaster-recovery rehearsal runs as documented and ends with nothing lost and nothing posted twice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_dr_drill_loses_nothing_and_posts_nothing_twice() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "dr-drill"), "--before", "3", "--after", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/sbin:/sbin"},
    )  # fmt: skip
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.fullmatch(
        r"sent (\d+), stored after restore (\d+), reviews posted twice (\d+), lost (\d+)", last
    )
    assert match, last
    sent, stored, twice, lost = map(int, match.groups())
    assert (sent, stored, twice, lost) == (
        7,
        7,
        0,
        0,
    )  # 3 before the backup, 3 after, 1 live after the restore
    assert "3 redelivered" in result.stdout  # the 3 the restore lost came back through GitHub's redelivery
