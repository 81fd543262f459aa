"""Generate the values table of charts/reviewops/README.md from the `# --` comments in values.yaml.

The same format helm-docs reads, without needing helm-docs installed: a `# -- text` comment documents the key
right below it (and everything nested under that key). `python scripts/chart_values_table.py --write` updates
the README; a test fails when it is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "charts" / "reviewops"
START = "<!-- values:start -->"
END = "<!-- values:end -->"


def documented_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) for each `# --` comment, in file order."""
    out: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and pending:
            pending.append(stripped[1:].strip())
            continue
        if not stripped or stripped.startswith(("#", "- ")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        key = stripped.split(":", 1)[0].strip().strip('"')
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if pending:
            out.append((".".join(k for _, k in stack), " ".join(pending)))
            pending = []
    return out


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def type_name(value: Any) -> str:
    if value is None:
        return "int or null"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}[
        type(value)
    ]


def table() -> str:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key, description in documented_keys(text):
        value = lookup(values, key)
        default = json.dumps(value, separators=(",", ":"))
        if len(default) > 60:
            default = "see values.yaml"
        cells = [f"`{key}`", type_name(value), f"`{default}`", description]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Update the values table of the chart README.")
    parser.add_argument("--write", action="store_true", help="rewrite the README (default: check it)")
    args = parser.parse_args(argv)
    readme = CHART / "README.md"
    text = readme.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    new = f"{before}{START}\n{table()}{END}{after}"
    if args.write:
        readme.write_text(new)
        return 0
    if new != text:
        print(
            "charts/reviewops/README.md is out of date: run scripts/chart_values_table.py --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
