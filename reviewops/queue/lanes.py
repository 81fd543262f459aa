"""The replay lane's share of a worker process: at most `replay_in_flight` replayed messages at once.

A worker runs one dramatiq thread per review in flight (REVIEWOPS_REVIEWS_IN_FLIGHT, 32) and hands live
work to threads first (actor priority), but priority only orders what waits: a replay of thousands of
dead letters still filled every thread, and every live delivery then ran beside 31 replayed ones in one
interpreter, waiting for the GIL behind each of them at every database or Redis round trip (`python -m
bench replay`, same loaded machine, back to back: live p50 during a replay 290 ms with 32 threads, 58 ms
with 4, 39 ms with 32 threads and this cap at 4; 22-31 ms without a replay). Capping the replay
consumer's prefetch (dramatiq counts prefetched *and* unacknowledged messages against it) caps the
replay lane's in-flight work in each worker; the other threads stay free for live work, and more
workers still replay faster.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from reviewops.queue.names import REPLAY_QUEUE


class ReplayLaneCap(dramatiq.Middleware):
    """Sets the replay queue's consumer prefetch to `in_flight` when its consumer thread starts."""

    def __init__(self, in_flight: int, queue: str = REPLAY_QUEUE) -> None:
        if in_flight < 1:
            raise ValueError("the replay lane needs at least one message in flight")
        self.in_flight = in_flight
        self.queue = queue

    def after_consumer_thread_boot(self, broker: dramatiq.Broker, thread: Any) -> None:
        # Runs in the consumer thread before its first fetch (dramatiq.worker.ConsumerThread.run); the
        # delay queue (`<queue>.DQ`) keeps dramatiq's own prefetch: its messages wait, they do not run.
        if thread.queue_name == self.queue:
            thread.prefetch = min(thread.prefetch, self.in_flight)
