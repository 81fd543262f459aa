"""`python -m bench.secrets_scanners [--seed N] [--kingfisher]`: the scanner evaluation behind issue 16.

Scores each candidate detector on the planted corpus (tests/support/secrets_corpus.py): recall over the
credential cases, decoy cases with any finding, and time per diff. Each scanner sees what the review sees:
the added lines of one file. Kingfisher is a 22 MB binary run as a subprocess (about 20 s to compile its
rule cache once, then ~1 s a diff); it runs only with --kingfisher. The figures are in README.md
("Secrets: detection and redaction"); the "before" row there (detect-secrets plugins plus a few own
patterns, line by line) was measured with the same corpus on the engine of commit af68896.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.secrets_corpus import Case, cases

Scanner = Callable[[Case], list[str]]  # returns the values (or snippets) it reported


def _overlaps(value: str, secret: str) -> bool:
    """A report covers a planted value when they share a 12-character piece (PEM bodies are long)."""
    secret = secret.replace("\\n", "\n")
    if len(secret) <= 12 or len(value) <= 12:
        return bool(value) and (value in secret or secret in value)
    return any(secret[i : i + 12] in value for i in range(0, len(secret) - 11, 4))


def betterleaks_scan(case: Case) -> list[str]:
    import betterleaks

    return [f.match.value or f.match.full for f in betterleaks.scan_string("\n".join(case.added))]


def reviewops_scan(case: Case) -> list[str]:
    """After issue 16: what the secrets analyzer reports (any severity)."""
    from reviewops.credentials.detect import scan_added

    return [d.value for d in scan_added(case.path, dict(enumerate(case.added, 1)))]


def kingfisher_all(corpus: list[Case]) -> tuple[dict[str, list[str]], float]:
    """One kingfisher run over every case (a folder each); returns reports per case id and s/diff."""
    binary = Path(sys.executable).with_name("kingfisher")
    with tempfile.TemporaryDirectory() as tmp:
        for case in corpus:
            target = Path(tmp, case.id, case.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(case.added) + "\n")
        args = [
            str(binary),
            "scan",
            "--no-validate",
            "--no-update-check",
            "-q",
            "-f",
            "json",
            "--git-history",
            "none",
        ]
        subprocess.run(
            [*args, str(Path(tmp, corpus[0].id))], capture_output=True, check=False
        )  # warm the cache
        started = time.perf_counter()
        subprocess.run([*args, str(Path(tmp, corpus[1].id))], capture_output=True, check=False)
        per_diff = time.perf_counter() - started
        out = subprocess.run([*args, tmp], capture_output=True, check=False, text=True)
        reports: dict[str, list[str]] = {c.id: [] for c in corpus}
        for item in json.loads(out.stdout or "{}").get("findings", []):
            rel = Path(item["finding"]["path"]).relative_to(tmp)
            reports[rel.parts[0]].append(item["finding"]["snippet"])
    return reports, per_diff


def score(name: str, reports: dict[str, list[str]], corpus: list[Case], seconds: float) -> dict[str, object]:
    planted = found = 0
    missed: list[str] = []
    flagged: list[str] = []
    for case in corpus:
        values = reports[case.id]
        if case.is_credential:
            for secret in case.secrets:
                planted += 1
                if any(_overlaps(v, secret) for v in values):
                    found += 1
                else:
                    missed.append(case.id)
        elif values:
            flagged.append(case.id)
    return {
        "scanner": name,
        "recall": f"{found}/{planted} ({100 * found / planted:.0f} %)",
        "decoys_flagged": f"{len(flagged)}/{sum(not c.is_credential for c in corpus)}",
        "ms_per_diff": round(1000 * seconds, 2),
        "missed": sorted(set(missed)),
        "decoys": flagged,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.secrets_scanners", description=__doc__)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--kingfisher", action="store_true", help="also run the kingfisher binary (slow)")
    args = parser.parse_args(argv)
    corpus = cases(args.seed)
    scanners: dict[str, Scanner] = {"betterleaks": betterleaks_scan, "reviewops": reviewops_scan}
    rows = []
    for name, scanner in scanners.items():
        scanner(corpus[0])  # warm up (betterleaks loads its rules on first use)
        started = time.perf_counter()
        reports = {c.id: scanner(c) for c in corpus}
        rows.append(score(name, reports, corpus, (time.perf_counter() - started) / len(corpus)))
    if args.kingfisher:
        reports, per_diff = kingfisher_all(corpus)
        rows.append(score("kingfisher", reports, corpus, per_diff))
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
