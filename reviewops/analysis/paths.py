"""What kind of file a path is (source, test), shared by the analyzers and the LLM packer."""

from __future__ import annotations

import posixpath
import re

PY = (".py", ".pyi")
JS = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte")
SOURCE = (*PY, *JS, ".go", ".rs", ".java", ".kt", ".rb", ".php", ".c", ".cc", ".cpp", ".h", ".cs", ".swift",
          ".scala")  # fmt: skip
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing"})
_TEST_NAME = re.compile(r"(?:_test|\.test|\.spec|Test|Tests)\.[A-Za-z]+$")


def is_test_path(path: str) -> bool:
    name = posixpath.basename(path)
    parts = path.lower().split("/")
    in_test_dir = any(p in _TEST_DIRS for p in parts[:-1])
    return in_test_dir or name.startswith("test_") or bool(_TEST_NAME.search(name))


def is_source_path(path: str) -> bool:
    return path.endswith(SOURCE) and not is_test_path(path)
