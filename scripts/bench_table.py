"""Render bench/results/latest.json (rows and the machine they ran on) into the README's benchmark block.

`python scripts/bench_table.py` prints the Markdown; `--write` replaces what lies between
`<!-- bench:start -->` and `<!-- bench:end -->` in README.md; `--results PATH` reads another file.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def render(data: dict[str, Any]) -> str:
    m = data.get("machine") or {}
    lines = [
        f"Measured on {m.get('cpus', '?')} CPUs, {m.get('machine', '?')}, {m.get('system', '?')}, "
        f"Python {m.get('python', '?')}"
        + (" (quick run: not meaningful)" if data.get("quick") else "")
        + ".",
        "",
        "| Benchmark | Metric | ReviewOps | Baseline | Ratio | Target | Met | Notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data.get("rows") or []:
        met = "-" if r.get("passed") is None else ("yes" if r["passed"] else "**no**")
        notes = (r.get("notes") or "").replace("|", "/")
        lines.append(
            f"| {r['benchmark']} | {r['metric']} ({r['unit']}) | {_num(r['reviewops'])} | "
            f"{_num(r.get('baseline'))} | {_num(r.get('ratio'))} | {r.get('target') or '-'} | {met} | {notes} |"
        )
    return "\n".join(lines)


def write(readme: Path, block: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{block}\n{END}{tail}")


def main(argv: list[str]) -> None:
    path = ROOT / "bench" / "results" / "latest.json"
    if "--results" in argv:
        index = argv.index("--results")
        if index + 1 >= len(argv):
            raise SystemExit("--results: needs a path")
        path = Path(argv[index + 1])
    if not path.exists():
        raise SystemExit(f"--results: {path} does not exist; run `python -m bench` first")
    block = render(json.loads(path.read_text()))
    if "--write" in argv:
        write(ROOT / "README.md", block)
    else:
        print(block)


if __name__ == "__main__":
    main(sys.argv[1:])
