"""Human durations for CLI options and specs: `30s`, `10m`, `12h`, `90d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse `<number><unit>`; raises ValueError with the accepted forms."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(
            f"{text!r} is not a duration; use a number and a unit s, m, h, d or w (e.g. 10m, 90d)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
