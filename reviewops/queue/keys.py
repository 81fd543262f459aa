"""The queue names and Redis keys that the API, the workers and the operator share, defined once.

dramatiq's RedisBroker layout for queue `q` in namespace `dramatiq` (see the broker's Lua script):
`dramatiq:q` list of ready ids; `dramatiq:q.msgs` hash of ready + in-flight bodies; `dramatiq:q.DQ` /
`dramatiq:q.DQ.msgs` delayed ids and bodies (a running worker holds delayed ids in memory until their
eta, so only the hash is honest); `dramatiq:q.XQ` / `q.XQ.msgs` dramatiq's own dead letters.
The operator counts from these keys; the workers and the API write them through dramatiq. A name changed
here changes for every component at once, which is the point of this module.
"""

from __future__ import annotations

NAMESPACE = "dramatiq"
LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
QUEUES = (LIVE_QUEUE, REPLAY_QUEUE)
DELAY_SUFFIX = ".DQ"
DEAD_SUFFIX = ".XQ"

# Written by the DLQ component after every change (decimal string); read by the operator.
DEAD_LETTERS_PENDING_KEY = "reviewops:dead-letters:pending"
# `dlq replay --result-key K` writes its summary JSON here; the operator reads it into status.lastReplay.
REPLAY_RESULTS_PREFIX = "reviewops:replay-results:"


def ready_key(queue: str, namespace: str = NAMESPACE) -> str:
    """The list of ready message ids (LLEN hides prefetched work: never a backlog on its own)."""
    return f"{namespace}:{queue}"


def messages_key(queue: str, namespace: str = NAMESPACE) -> str:
    """Hash of ready and in-flight message bodies by id."""
    return f"{namespace}:{queue}.msgs"


def delayed_messages_key(queue: str, namespace: str = NAMESPACE) -> str:
    """Hash of delayed message bodies by id (each body's `options.eta` is when it is due, epoch ms)."""
    return f"{namespace}:{queue}{DELAY_SUFFIX}.msgs"
