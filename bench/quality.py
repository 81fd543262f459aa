"""`python -m bench quality`: how much of what the deterministic review posts on real, merged code is worth
a maintainer's time.

For each archive in ../shared/fixtures/real-repos/*.tgz (skipped cleanly when absent) the review runs over
the last 100 non-merge commits (`C^..C`, as `reviewops review --git` does: base contents and configuration
from `C^`). Printed: findings per analyzer and rule, findings the analyzers placed off the diff, the commits
whose check run would fail, and precision (valid / posted) per analyzer and per repository, from the
judgments kept beside this script in quality_judgments.json. Every posted finding must be judged; the
command lists those that are not (`--record` adds them to the file unjudged, `valid: null`, for a human).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reviewops.analysis.analyzers import LLM_BACKED, REGISTRY, build_analyzers
from reviewops.analysis.config import parse_repo_config
from reviewops.analysis.engine import run_review
from reviewops.analysis.local import load_local
from reviewops.analysis.model import AnalysisContext, Finding, Severity

ROOT = Path(__file__).resolve().parent.parent
REAL_REPOS = ROOT.parent / "shared" / "fixtures" / "real-repos"
JUDGMENTS = Path(__file__).resolve().parent / "quality_judgments.json"
COMMITS = 100
POSTED = Severity.WARNING  # the default threshold (REVIEWOPS_REVIEW_SEVERITY_THRESHOLD)
TARGET_PRECISION = 0.90


@dataclass(frozen=True)
class Observed:
    repo: str
    commit: str
    finding: Finding

    @property
    def key(self) -> str:
        """Stable across runs and line moves: repo, commit, path, rule and a hash of the (redacted) line."""
        f = self.finding
        line = hashlib.sha256(" ".join(f.line_content.split()).encode()).hexdigest()[:16]
        return f"{self.repo}:{self.commit[:12]}:{f.path}:{f.rule_id}:{line}"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def review_commit(repo: Path, commit: str) -> tuple[list[Finding], int, list[str]]:
    """The deterministic review of one commit: (findings, dropped off the diff, notes)."""
    source = load_local(repo, diff=None, git=f"{commit}^..{commit}", config=None)
    config = parse_repo_config(source.config_text)
    enabled = {name: name not in LLM_BACKED for name in REGISTRY}
    ctx = AnalysisContext(files=source.files, title=commit, config=config, read_head=source.read_head,
                          read_base=source.read_base)  # fmt: skip
    result = run_review(ctx, build_analyzers(enabled, config, None))
    return result.findings, result.dropped, result.notes


def _pct(valid: int, total: int) -> str:
    return f"{100 * valid / total:.1f} %" if total else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench quality", description=__doc__)
    parser.add_argument("--repos", default=str(REAL_REPOS), help="folder of *.tgz shallow clones")
    parser.add_argument("--commits", type=int, default=COMMITS)
    parser.add_argument("--record", action="store_true", help="add unjudged findings to the judgments file")
    parser.add_argument("--only", nargs="*", default=None, help="archive names without .tgz")
    args = parser.parse_args(argv)
    archives = sorted(Path(args.repos).glob("*.tgz"))
    if args.only:
        archives = [a for a in archives if a.stem in args.only]
    if not archives:
        print(f"quality: no archives in {args.repos}: skipped")
        return 0
    judgments: dict[str, dict[str, object]] = json.loads(JUDGMENTS.read_text()) if JUDGMENTS.exists() else {}
    observed: list[Observed] = []
    dropped: Counter[str] = Counter()
    failing: list[tuple[str, str, list[Observed]]] = []
    commits_seen: Counter[str] = Counter()
    failed_analyzers: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="reviewops-quality-") as tmp:
        for archive in archives:
            name = archive.stem
            target = Path(tmp) / name
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
            repo = next(p for p in target.iterdir() if (p / ".git").exists())
            commits = _git(repo, "rev-list", "--no-merges", f"--max-count={args.commits}", "HEAD").split()
            print(f"{name}: {len(commits)} commits ...", file=sys.stderr, flush=True)
            for commit in commits:
                if not _git(repo, "rev-list", "--parents", "-n1", commit).split()[1:]:
                    continue  # the shallow clone's oldest commit has no parent to diff against
                commits_seen[name] += 1
                findings, off_diff, notes = review_commit(repo, commit)
                dropped[name] += off_diff
                failed_analyzers.update(
                    n.split()[1] for n in notes if n.startswith("Analyzer ") and "failed" in n
                )
                here = [Observed(name, commit, f) for f in findings]
                observed.extend(here)
                errors = [o for o in here if o.finding.severity >= Severity.ERROR]
                if errors:
                    failing.append((name, commit, errors))
    posted = [o for o in observed if o.finding.severity >= POSTED]
    return report(posted, observed, judgments, dropped, failing, commits_seen, failed_analyzers, args.record)


def _precision_table(
    title: str, key: Callable[[Observed], str], posted: list[Observed], observed: list[Observed],
    judgments: dict[str, dict[str, object]], names: list[str] | None = None,
) -> None:  # fmt: skip
    """valid / posted (what reaches GitHub at the default threshold) and valid / all (stored too)."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for group, offset in ((posted, 0), (observed, 2)):
        for o in group:
            rows[key(o)][offset] += int(judgments.get(o.key, {}).get("valid") is True)
            rows[key(o)][offset + 1] += 1
    print(f"\nprecision per {title}: valid / posted (>= warning), valid / all findings (info stored too)")
    for name in names or sorted(rows):
        p_ok, p_all, a_ok, a_all = rows.get(name, [0, 0, 0, 0])
        print(
            f"  {name:14} posted {p_ok}/{p_all} = {_pct(p_ok, p_all):8} all {a_ok}/{a_all} = {_pct(a_ok, a_all)}"
        )
    totals = [sum(r[i] for r in rows.values()) for i in range(4)]
    print(f"  {'all':14} posted {totals[0]}/{totals[1]} = {_pct(totals[0], totals[1]):8} "
          f"all {totals[2]}/{totals[3]} = {_pct(totals[2], totals[3])}")  # fmt: skip


def report(
    posted: list[Observed], observed: list[Observed], judgments: dict[str, dict[str, object]],
    dropped: Counter[str], failing: list[tuple[str, str, list[Observed]]], commits_seen: Counter[str],
    failed_analyzers: Counter[str], record: bool,
) -> int:  # fmt: skip
    print(f"\ncommits reviewed: {dict(commits_seen)}; findings: {len(observed)} (posted at >= warning: "
          f"{len(posted)}); analyzer failures: {dict(failed_analyzers) or 'none'}")  # fmt: skip
    print("\nfindings per analyzer and rule (all severities; * = posted)")
    per_rule = Counter(
        (o.finding.analyzer, o.finding.rule_id, o.finding.severity >= POSTED) for o in observed
    )
    for (analyzer, rule, is_posted), count in sorted(per_rule.items()):
        print(f"  {analyzer:12} {rule:40} {'*' if is_posted else ' '} {count}")
    print(f"\nfindings off the diff (dropped before posting): {sum(dropped.values())} {dict(dropped)}")
    unjudged = [o for o in observed if judgments.get(o.key, {}).get("valid") is None]
    valid = [o for o in posted if judgments.get(o.key, {}).get("valid") is True]
    _precision_table("analyzer", lambda o: o.finding.analyzer, posted, observed, judgments)
    _precision_table("repository", lambda o: o.repo, posted, observed, judgments, sorted(commits_seen))
    bad_failures = [(r, c, errs) for r, c, errs in failing
                    if any(judgments.get(o.key, {}).get("valid") is not True for o in errs)]  # fmt: skip
    print(f"\ncommits whose check run would fail: {len(failing)}; failed by an invalid (or unjudged) "
          f"finding: {len(bad_failures)}")  # fmt: skip
    for repo, commit, errs in failing:
        print(f"  {repo} {commit[:12]}: " + ", ".join(f"{o.finding.rule_id} {o.finding.path}" for o in errs))
    if unjudged:
        print(f"\n{len(unjudged)} findings are not judged yet:")
        for o in unjudged:
            f = o.finding
            print(
                f"  {o.key}\n    {f.severity.label} {f.message[:160]!r}\n    line: {f.line_content.strip()[:160]!r}"
            )
            if record:
                judgments.setdefault(o.key, {"valid": None, "reason": "", "message": f.message[:200]})
        if record:
            JUDGMENTS.write_text(json.dumps(dict(sorted(judgments.items())), indent=2) + "\n")
            print(f"recorded in {JUDGMENTS}")
    precision = len(valid) / len(posted) if posted else 1.0
    ok = precision >= TARGET_PRECISION and not bad_failures and not sum(dropped.values()) and not unjudged
    print(f"\ntargets (>= {TARGET_PRECISION:.0%} valid, 0 check runs failed by an invalid finding, 0 off the "
          f"diff, all judged): {'met' if ok else 'NOT met'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
