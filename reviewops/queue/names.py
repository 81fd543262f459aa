"""Queue names and the Redis keys that several processes share (API, workers, CLI, the operator).

A leaf module (no dramatiq, no database) so the operator can import the contract without the rest.

dramatiq's RedisBroker layout for queue `q` in namespace `dramatiq` (see the broker's Lua script):
`dramatiq:q` list of ready ids; `dramatiq:q.msgs` hash of ready + in-flight bodies; `dramatiq:q.DQ` /
`dramatiq:q.DQ.msgs` delayed ids and bodies (a running worker holds delayed ids in memory until their
eta, so only the hash is honest); `dramatiq:q.XQ` / `q.XQ.msgs` dramatiq's own dead letters. The operator
counts from these keys, the workers and the API write them through dramatiq: a name changed here
changes for every component at once.
"""

from __future__ import annotations

NAMESPACE = "dramatiq"
LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
WORK_QUEUES = (LIVE_QUEUE, REPLAY_QUEUE)
DELAY_SUFFIX = ".DQ"

# Tenant fairness (reviewops.queue.fairness): a tenant's messages waiting for one of its slots are parked
# in `<FAIR_PREFIX>parked:<queue>` (redis message id -> body), outside dramatiq's hashes: the backlog
# counts them too.
FAIR_PREFIX = "reviewops:fair:"

# Written by the workers' maintenance tick, read by the operator (the dead-letter count it reports).
DEAD_LETTERS_PENDING_KEY = "reviewops:dead-letters:pending"
# Replay Jobs write their summary here (`<prefix><key>`); the operator reads it into the policy's status.
REPLAY_RESULT_KEY_PREFIX = "reviewops:replay-results:"


def ready_key(queue: str, namespace: str = NAMESPACE) -> str:
    """The list of ready message ids (LLEN hides prefetched work: never a backlog on its own)."""
    return f"{namespace}:{queue}"


def messages_key(queue: str, namespace: str = NAMESPACE) -> str:
    """Hash of ready and in-flight message bodies by id."""
    return f"{namespace}:{queue}.msgs"


def delayed_messages_key(queue: str, namespace: str = NAMESPACE) -> str:
    """Hash of delayed message bodies by id (each body's `options.eta` is when it is due, epoch ms)."""
    return f"{namespace}:{queue}{DELAY_SUFFIX}.msgs"


def parked_messages_key(queue: str) -> str:
    """Hash of the queue's messages parked by tenant fairness until their tenant has a free slot."""
    return f"{FAIR_PREFIX}parked:{queue}"
