"""Error classes that decide what the worker does with a failure: retry it, or dead-letter it at once."""

from __future__ import annotations


class ReviewOpsError(Exception):
    """Base class of ReviewOps' own errors."""


class TransientError(ReviewOpsError):
    """Worth retrying: network trouble, GitHub 5xx or rate limits, LLM timeouts, lost DB connections.

    `retry_after` (seconds) asks the retry to wait at least that long, e.g. until a rate limit resets.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ReviewOpsError):
    """Retrying cannot help: invalid payload, repository gone, installation suspended, 404 on the PR."""
