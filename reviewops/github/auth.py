"""GitHub App authentication: the app JWT and installation tokens cached until shortly before they expire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gidgethub import apps

# GitHub accepts an `exp` at most 10 minutes after now; gidgethub backdates `iat` by 60 s for clock drift,
# so exp = iat + 600 = now + 540 s.
JWT_LIFETIME_SECONDS = 600
# Refresh an installation token this long before GitHub's expiry (tokens live one hour).
TOKEN_REFRESH_MARGIN_SECONDS = 300


def app_jwt(app_id: int, private_key_pem: str) -> str:
    """An RS256 app JWT (iat 60 s in the past, exp under 10 minutes ahead)."""
    return apps.get_jwt(app_id=str(app_id), private_key=private_key_pem, expiration=JWT_LIFETIME_SECONDS)


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - TOKEN_REFRESH_MARGIN_SECONDS

    def __repr__(self) -> str:  # never show the token itself
        return f"InstallationToken(expires_at={self.expires_at})"


def parse_expiry(value: str) -> float:
    """GitHub's `expires_at` ('2016-07-11T22:14:10Z') as epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class TokenCache:
    """Installation tokens per installation, shared by all worker threads.

    One lock per installation: two threads needing the same expired token fetch it once, while
    other installations are not held up.
    """

    def __init__(self, fetch: Callable[[int], InstallationToken], clock: Callable[[], float] = time.time):
        self._fetch = fetch
        self._clock = clock
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, installation_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(installation_id, threading.Lock())

    def get(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None and cached.fresh(self._clock()):
            return cached.token
        with self._lock_for(installation_id):
            cached = self._tokens.get(installation_id)
            if cached is None or not cached.fresh(self._clock()):
                cached = self._fetch(installation_id)
                self._tokens[installation_id] = cached
            return cached.token

    def invalidate(self, installation_id: int) -> None:
        """Forget a token GitHub rejected (401), so the next call fetches a new one."""
        self._tokens.pop(installation_id, None)
