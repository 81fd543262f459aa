"""Queue names and the Redis keys that several processes share (API, workers, CLI, the operator).

A leaf module (no dramatiq, no database) so the operator can import the contract without the rest.
"""

from __future__ import annotations

LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
WORK_QUEUES = (LIVE_QUEUE, REPLAY_QUEUE)

# Written by the workers' maintenance tick, read by the operator (the dead-letter count it reports).
DEAD_LETTERS_PENDING_KEY = "reviewops:dead-letters:pending"
# Replay Jobs write their summary here (`<prefix><key>`); the operator reads it into the policy's status.
REPLAY_RESULT_KEY_PREFIX = "reviewops:replay-results:"
