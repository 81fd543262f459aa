"""The dramatiq broker and the messages ReviewOps puts on it."""

from reviewops.queue.broker import LIVE_QUEUE, REPLAY_QUEUE, build_broker, enqueue_delivery

__all__ = ["LIVE_QUEUE", "REPLAY_QUEUE", "build_broker", "enqueue_delivery"]
