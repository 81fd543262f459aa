"""Real backlog of dramatiq queues, counted from the broker's hashes, with delayed work split by due time.

`LLEN dramatiq:<q>` hides prefetched messages (up to 2 x threads per worker) and a running worker holds
delayed ids in memory, so the only honest count is the message hashes: ready + in-flight in `<q>.msgs`,
delayed in `<q>.DQ.msgs`. Delayed messages are not all work a new worker could do: a review held by its
tenant's hourly limit, a retry in backoff or a fairness deferral is not runnable before its eta. So
`read_backlog` reads each delayed body's `options.eta` and counts as "due" only what is due within the
horizon (the operator passes one poll interval); the rest is reported apart, never scaled on.
Messages parked by tenant fairness (`reviewops:fair:parked:<q>`, outside dramatiq's hashes) wait for one
of their tenant's slots, which frees as reviews end and grows with the fleet (the default cap is a share
of it): they count as runnable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import redis

from reviewops.queue.names import NAMESPACE, delayed_messages_key, messages_key, parked_messages_key

SCAN_COUNT = 500


@dataclass(frozen=True)
class Backlog:
    """One queue's messages: ready or in flight, delayed but due soon, delayed for later, and parked."""

    ready_and_in_flight: int = 0
    delayed_due: int = 0
    delayed_later: int = 0
    parked: int = 0

    @property
    def runnable(self) -> int:
        """What workers could work on within the horizon: the number to scale on."""
        return self.ready_and_in_flight + self.delayed_due + self.parked

    @property
    def delayed(self) -> int:
        return self.delayed_due + self.delayed_later

    @property
    def total(self) -> int:
        return self.ready_and_in_flight + self.delayed + self.parked


def _eta_ms(body: bytes | str) -> float | None:
    try:
        data = orjson.loads(body)
        eta = data.get("options", {}).get("eta")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return float(eta) if isinstance(eta, int | float) and not isinstance(eta, bool) else None


def read_backlog(
    client: redis.Redis, queue: str, *, now_ms: float, horizon_seconds: float, namespace: str = NAMESPACE
) -> Backlog:
    """Count the queue's messages; a delayed body without a readable eta counts as due (never hidden)."""
    ready_and_in_flight = int(client.hlen(messages_key(queue, namespace)))
    parked = int(client.hlen(parked_messages_key(queue)))
    due = later = 0
    deadline = now_ms + horizon_seconds * 1000
    for _id, body in client.hscan_iter(delayed_messages_key(queue, namespace), count=SCAN_COUNT):
        eta = _eta_ms(body)
        if eta is None or eta <= deadline:
            due += 1
        else:
            later += 1
    return Backlog(ready_and_in_flight, due, later, parked)


def queue_backlog(client: redis.Redis, queue: str, namespace: str = NAMESPACE) -> int:
    """Every message the broker holds for the queue, delayed and parked included (the queue-depth gauge)."""
    pipe = client.pipeline(transaction=False)
    pipe.hlen(messages_key(queue, namespace))
    pipe.hlen(delayed_messages_key(queue, namespace))
    pipe.hlen(parked_messages_key(queue))
    return sum(int(n) for n in pipe.execute())


def total_backlog(client: redis.Redis, queues: Iterable[str], namespace: str = NAMESPACE) -> dict[str, int]:
    return {queue: queue_backlog(client, queue, namespace) for queue in queues}
