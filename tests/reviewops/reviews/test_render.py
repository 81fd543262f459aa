"""What goes to GitHub for a finding: only diff lines, ranges within one hunk, secrets scrubbed."""

from __future__ import annotations

from reviewops.analysis.model import Finding, Severity
from reviewops.reviews import render
from reviewops.reviews.selection import select_for_posting
from tests.support.patches import parse_patch

# New lines 1-3 (hunk 1: context 1, added 2, context 3), new lines 10-12 (hunk 2: added 11, 12).
PATCH = "@@ -1,2 +1,3 @@\n a\n+b\n c\n@@ -8,1 +10,3 @@\n x\n+y\n+z"
FILE = parse_patch("m.py", PATCH, "modified")


def finding(line: int, *, end: int | None = None, sev: Severity = Severity.WARNING, rule: str = "r",
            analyzer: str = "hygiene", content: str = "", **kw: object) -> Finding:  # fmt: skip
    return Finding(
        analyzer, rule, "m.py", line, end or line, sev, "msg", line_content=content or f"l{line}", **kw
    )  # type: ignore[arg-type]


def test_only_lines_of_the_diff_get_comments() -> None:
    # The hidden marker names the finding, so a `/reviewops ignore` reply can dismiss exactly this one.
    marker = render.finding_marker(finding(2).fingerprint)
    assert render.inline_comment(finding(2), FILE) == {
        "path": "m.py", "line": 2, "side": "RIGHT", "body": f"🟠 **warning** · `r`\n\nmsg\n\n{marker}"
    }  # fmt: skip
    assert render.fingerprint_in(marker) == finding(2).fingerprint
    assert render.inline_comment(finding(3), FILE) is not None  # context lines are commentable
    assert render.inline_comment(finding(5), FILE) is None  # between hunks
    assert render.inline_comment(finding(99), FILE) is None


def test_ranges_stay_within_one_hunk() -> None:
    inside = render.inline_comment(finding(10, end=12, suggestion="y2\nz2"), FILE)
    assert inside is not None
    assert (inside["start_line"], inside["line"], inside["start_side"]) == (10, 12, "RIGHT")
    assert "```suggestion\ny2\nz2\n```" in inside["body"]
    across = render.inline_comment(finding(2, end=11, suggestion="nope"), FILE)
    assert across is not None and "start_line" not in across and across["line"] == 11
    assert "suggestion" not in across["body"]  # would replace the wrong lines


def test_secrets_are_never_echoed() -> None:
    key = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
    leaky = Finding("secrets", "github-token", "m.py", 2, 2, Severity.ERROR, f"token {key} found",
                    suggestion=f'TOKEN = "{key}"', line_content=f'TOKEN = "{key}"')  # fmt: skip
    comment = render.inline_comment(leaky, FILE)
    assert comment is not None and key not in comment["body"] and "[redacted]" in comment["body"]
    assert key not in str(render.annotation(leaky))
    body = render.summary_body(head_sha="a" * 40, findings=[leaky], inline=1, annotations=0, already_posted=0,
                               below_threshold=0, threshold=Severity.WARNING, notes=[])  # fmt: skip
    assert key not in body


def test_selection_dedupes_ranks_and_splits() -> None:
    found = [
        finding(2, rule="dup"), finding(2, rule="dup"),  # same fingerprint: one
        finding(3, sev=Severity.INFO, rule="low"),  # below threshold
        finding(11, sev=Severity.ERROR, rule="err"),
        finding(12, rule="old"),  # posted on an earlier push
        finding(50, sev=Severity.ERROR, rule="far"),  # outside the diff
        *[finding(10, rule=f"many{i}", content=f"c{i}") for i in range(4)],
    ]  # fmt: skip
    old = next(f.fingerprint for f in found if f.rule_id == "old")
    sel = select_for_posting(found, {"m.py": FILE}, threshold=Severity.WARNING, already_posted={old},
                             max_comments=3)  # fmt: skip
    assert len(sel.findings) == 9
    assert [f.rule_id for f, _ in sel.inline] == ["err", "dup", "many0"]
    assert [f.rule_id for f in sel.overflow] == ["many1", "many2", "many3"]
    assert sel.already_posted == 1 and sel.below_threshold == 1
    assert "far" not in {f.rule_id for f in sel.in_diff}
    assert render.conclusion(sel.in_diff, Severity.WARNING) == "failure"
    assert render.conclusion([finding(2, sev=Severity.INFO)], Severity.WARNING) == "success"


def test_summary_names_notes_and_checklist() -> None:
    body = render.summary_body(
        head_sha="f" * 40, findings=[], inline=0, annotations=0, already_posted=2, below_threshold=0,
        threshold=Severity.ERROR, notes=["LLM review skipped: timeout"],
        qa_checklist="- check login\n- check logout",
    )  # fmt: skip
    assert body.startswith(render.SUMMARY_MARKER)
    assert "LLM review skipped: timeout" in body and "- [ ] check logout" in body and "2 finding(s)" in body
