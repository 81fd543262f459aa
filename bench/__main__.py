"""`python -m bench [--quick] [NAME ...]`: run the benchmarks, print the table, write bench/results/.

`python -m bench quality [--record]` is the precision report on real repositories (bench/quality.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench.common import RESULTS, Row, environment, table, write_results

BENCHMARKS = ["ingest", "queue", "ratelimit", "replay", "engine", "scaling", "review"]
# Run only when named: they need what a plain checkout may lack (`llm`: the llm-server extra and
# ../shared/fixtures/real-repos/), and write their own results file (bench/results/NAME.json).
OPTIONAL = ["llm"]


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["quality"]:
        # Not a timing benchmark: a precision report on real repositories (bench/quality.py).
        from bench.quality import main as quality

        sys.exit(quality(args_in[1:]))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})"
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (numbers are not meaningful)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS + OPTIONAL]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS + OPTIONAL)}"
        )
    names = args.names or BENCHMARKS
    rows: list[Row] = []
    with environment(args.quick) as env:
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            started = time.perf_counter()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows.extend(module.run(env))
            print(f"  {name} done in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    print(table(rows))
    # Only a full run replaces latest.json (the README's table); a subset must not drop the other rows.
    partial = set(names) != set(BENCHMARKS)
    target = RESULTS / "partial.json" if partial and not args.quick else None
    if len(names) == 1 and names[0] in OPTIONAL and not args.quick:
        target = RESULTS / f"{names[0]}.json"
    path = write_results(rows, args.quick, target)
    print(f"\nresults written to {path}")
    failed = [r for r in rows if r.passed is False]
    if failed:
        print(f"{len(failed)} target(s) missed: " + ", ".join(f"{r.benchmark}/{r.metric}" for r in failed))


if __name__ == "__main__":
    main()
