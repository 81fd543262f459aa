"""Findings as text, JSON or SARIF 2.1.0 (what GitHub code scanning ingests). Secrets are already
redacted by the engine; every rendering still passes the redaction gate once more on its way out."""

from __future__ import annotations

import json
from typing import Any

from reviewops import __version__
from reviewops.analysis.engine import ReviewResult
from reviewops.analysis.model import Finding, Severity
from reviewops.credentials.redaction import redact_text

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def comment_body(finding: Finding) -> str:
    """A review comment's Markdown: the message, and a ```suggestion block when there is a fix."""
    body = f"**{finding.severity.label}** ({finding.rule_id}): {finding.message}"
    if finding.suggestion is None:
        return redact_text(body)
    fence = "```"
    while fence in finding.suggestion:
        fence += "`"
    newline = "\n" if finding.suggestion else ""
    return redact_text(f"{body}\n\n{fence}suggestion\n{finding.suggestion}{newline}{fence}")


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "analyzer": finding.analyzer,
        "rule_id": finding.rule_id,
        "path": finding.path,
        "start_line": finding.start_line,
        "end_line": finding.end_line,
        "severity": finding.severity.label,
        "message": finding.message,
        "suggestion": finding.suggestion,
        "fingerprint": finding.fingerprint,
    }


def to_json(result: ReviewResult) -> str:
    return _gate_json(
        {
            "findings": [finding_dict(f) for f in result.findings],
            "notes": result.notes,
            "qa_checklist": result.qa_checklist,
            "usage": {
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
            },
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
        },
        indent=2,
    )


def _gate_json(data: Any, indent: int = 2) -> str:
    """JSON with every string value through the gate (before escaping, so PEM lines stay lines)."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return redact_text(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(data), indent=indent)


def to_text(result: ReviewResult) -> str:
    lines: list[str] = []
    for f in result.findings:
        where = f"{f.path}:{f.start_line}" + (f"-{f.end_line}" if f.end_line != f.start_line else "")
        lines.append(f"{where}: {f.severity.label}: {f.message} [{f.rule_id}]")
        if f.suggestion is not None:
            lines.append("    suggestion:")
            lines.extend(f"    | {s}" for s in (f.suggestion.split("\n") if f.suggestion else ["(delete)"]))
    if result.notes:
        lines.extend(["", *(f"note: {n}" for n in result.notes)])
    if result.qa_checklist:
        lines.extend(["", "QA checklist:", *(f"  [ ] {item}" for item in result.qa_checklist)])
    counts = {s: sum(1 for f in result.findings if f.severity == s) for s in Severity}
    if lines:
        lines.append("")
    lines.append(
        f"{_count(len(result.findings), 'finding')} ({_count(counts[Severity.ERROR], 'error')}, "
        f"{_count(counts[Severity.WARNING], 'warning')}, {counts[Severity.INFO]} info)"
    )
    return redact_text("\n".join(lines))


def to_sarif(result: ReviewResult) -> str:
    rules: dict[str, int] = {}
    rule_defs: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for f in result.findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = len(rule_defs)
            rule_defs.append(
                {
                    "id": f.rule_id,
                    "name": f.rule_id.replace("/", "-"),
                    "shortDescription": {"text": f"{f.analyzer}: {f.rule_id}"},
                    "defaultConfiguration": {"level": SARIF_LEVEL[f.severity]},
                    "properties": {"analyzer": f.analyzer},
                }
            )
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": rules[f.rule_id],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": f.start_line, "endLine": f.end_line},
                        }
                    }
                ],
                "partialFingerprints": {"reviewops/v1": f.fingerprint},
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ReviewOps",
                        "version": __version__,
                        "rules": rule_defs,
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"level": "note", "message": {"text": note}} for note in result.notes
                        ],
                    }
                ],
            }
        ],
    }
    return _gate_json(log)


def _count(n: int, noun: str) -> str:
    """ "1 finding", "2 findings": the summary line is read by people."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
