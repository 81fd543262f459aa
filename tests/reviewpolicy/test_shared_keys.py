"""The operator names no queue or Redis key of the workers itself: they come from reviewops.queue.names (and
reviewops.policy.store), so a rename reaches every component at once."""

from __future__ import annotations

import re
from pathlib import Path

import reviewpolicy

OPERATOR = Path(reviewpolicy.__file__).parent
# Literals that would mean a second definition: dramatiq's key layout, the DLQ and replay contracts,
# the queue names.
FORBIDDEN = re.compile(
    r"""["'](dramatiq[:"']|reviewops:(dead-letters|replay-results|limits|policy)|reviews(\.replay)?["'])"""
)


def test_no_shared_key_or_queue_name_is_spelled_out_in_the_operator() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(OPERATOR.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert found == []
