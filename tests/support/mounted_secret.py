"""A directory laid out as the kubelet lays out a mounted Secret, updated the way the kubelet updates it.

`<dir>/<key>` -> `..data/<key>`, `..data` -> `..<timestamp>/` holding the files. An update writes a new
timestamped directory and renames a fresh symlink over `..data` (atomic), so readers see the old or the
new value, never half of one.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_generations = itertools.count(1)


class MountedSecret:
    def __init__(self, root: Path, values: dict[str, str]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.update(values)
        for key in values:
            (root / key).symlink_to(Path("..data") / key)

    def path(self, key: str) -> Path:
        return self.root / key

    def update(self, values: dict[str, str]) -> None:
        stamp = self.root / f"..2026_12_06_{next(_generations):06d}"
        stamp.mkdir()
        for key, value in values.items():
            (stamp / key).write_text(value)
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(stamp.name)
        os.replace(tmp, self.root / "..data")
