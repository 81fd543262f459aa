"""Real backlog of dramatiq queues, counted from the broker's hashes.

`LLEN dramatiq:<q>` hides prefetched messages (up to 2 x threads per worker) and a running worker holds
delayed ids in memory, so the only honest count is HLEN of the message hashes:
ready + in-flight in `<q>.msgs`, delayed in `<q>.DQ.msgs`.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis


def queue_backlog(client: redis.Redis, queue: str, namespace: str = "dramatiq") -> int:
    pipe = client.pipeline(transaction=False)
    pipe.hlen(f"{namespace}:{queue}.msgs")
    pipe.hlen(f"{namespace}:{queue}.DQ.msgs")
    ready_and_inflight, delayed = pipe.execute()
    return int(ready_and_inflight) + int(delayed)


def total_backlog(client: redis.Redis, queues: Iterable[str], namespace: str = "dramatiq") -> dict[str, int]:
    return {queue: queue_backlog(client, queue, namespace) for queue in queues}
