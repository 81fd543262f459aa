"""Secrets read from mounted files and re-read when the file changes, so a rotation needs no restart.

Kubernetes updates a mounted Secret in place: the kubelet writes the new files into a fresh timestamped
directory and swaps the `..data` symlink atomically, typically within a minute of the Secret's change.
A reader that loaded the file once would keep the old value until the pod restarts; one that read it on
every request would turn each webhook into a stat and a read. `SecretFile` stats the path at most once
per `check_seconds` (1 s) and re-reads only when its identity (inode, size, mtime) changed, so a rotated
value is in force within a second of the kubelet's swap and costs one `stat` per second per file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import SecretStr

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


class SecretFile:
    """The current contents of one secret file (whitespace-stripped)."""

    def __init__(
        self, path: Path, *, check_seconds: float = CHECK_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._identity: tuple[int, int, int] | None = None
        self._value = ""
        self.reloads = 0  # how often a change was picked up (the first read is not a reload)

    def value(self) -> str:
        now = self._clock()
        checked = self._checked_at
        if checked is not None and now - checked < self.check_seconds:
            return self._value
        with self._lock:
            if self._checked_at is None or now - self._checked_at >= self.check_seconds:
                self._refresh()
                self._checked_at = now
            return self._value

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)  # follows the kubelet's symlinks to the file in force
            identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if identity == self._identity:
                return
            value = self.path.read_text().strip()
        except OSError as exc:
            # Mid-swap or a broken mount: keep serving the last good value rather than none at all.
            log.warning(
                "secret file %s unreadable (%s); keeping the last value", self.path, type(exc).__name__
            )
            return
        if self._identity is not None and value != self._value:
            self.reloads += 1
            log.info("secret file %s changed; new value in force", self.path)
        self._identity, self._value = identity, value


_files: dict[Path, SecretFile] = {}
_files_lock = threading.Lock()


def secret_file(path: Path) -> SecretFile:
    """The process-wide reader of `path` (one per file, so the once-a-second check is shared)."""
    key = Path(path)
    with _files_lock:
        found = _files.get(key)
        if found is None:
            found = _files[key] = SecretFile(key)
        return found


def split_secrets(raw: str) -> list[str]:
    """Several webhook secrets in one file or variable: separated by commas or newlines."""
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


def check_secret_sources(sources: Iterable[tuple[str, bool, Path | None]]) -> None:
    """Each secret comes from its variable or its `_FILE`, not both, and a named file exists.

    `sources`: (setting name, set inline, file path) per secret; errors name the variables to fix.
    """
    for name, inline, path in sources:
        variable = f"REVIEWOPS_{name.upper()}"
        if inline and path is not None:
            raise ValueError(f"set {variable} or {variable}_FILE, not both")
        if path is not None and not path.is_file():
            raise ValueError(f"{variable}_FILE: no such file {path}")


def secret_value(inline: SecretStr | None, path: Path | None) -> str | None:
    """The secret in force: the file's current contents when a file is set, else the variable's value."""
    if path is not None:
        return secret_file(path).value() or None
    return inline.get_secret_value() if inline else None
