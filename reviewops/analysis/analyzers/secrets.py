"""`secrets`: credentials on added lines, with a severity that knows where the line is.

A provider-specific credential (a `ghp_`/`AKIA`/`sk_live_` token, a private key) is an error anywhere. A
generic one (keyword + value, URL userinfo) is an error in code and configuration but at most a warning in
test data, fixtures, examples and documentation, so a URL-parser test vector never fails the check run.
`.reviewops.yaml` `secrets.allow` (paths, value regexes, fingerprints) silences what cannot carry a
pragma (JSON). The secret is never echoed: message, line_content and fingerprint come from the redacted
line only.
"""

from __future__ import annotations

import posixpath
import re
from itertools import groupby

from reviewops.analysis.config import path_matches
from reviewops.analysis.model import AnalysisContext, Finding, SecretsAllow, Severity
from reviewops.analysis.paths import is_test_path
from reviewops.credentials.detect import Detection, redact, scan_added

_DATA_DIRS = frozenset({"fixtures", "fixture", "testdata", "test-data", "test_data", "examples", "example",
                        "samples", "sample", "docs", "doc", "documentation", "mocks", "__mocks__"})  # fmt: skip
_DOC_EXTS = (".md", ".rst", ".txt", ".adoc", ".ipynb")


def is_test_or_docs(path: str) -> bool:
    """Test code, fixtures and test data, examples and documentation: where generic values are samples."""
    lower = path.lower()
    name = posixpath.basename(lower)
    if is_test_path(path) or lower.endswith(_DOC_EXTS) or any(p in _DATA_DIRS for p in lower.split("/")[:-1]):
        return True
    return bool(re.search(r"example|sample|template|\.dist$", name))


_ACRONYMS = frozenset({"aws", "gcp", "api", "pat", "url", "npm", "jwt", "ssh", "pem", "uri", "id", "sid"})


_NAMES = {"github": "GitHub", "gitlab": "GitLab", "openai": "OpenAI", "sendgrid": "SendGrid", "pypi": "PyPI",
          "huggingface": "Hugging Face", "digitalocean": "DigitalOcean", "anthropic": "Anthropic",
          "slack": "Slack", "stripe": "Stripe", "twilio": "Twilio", "google": "Google", "azure": "Azure"}  # fmt: skip


def kind_label(kind: str) -> str:
    """`aws-access-key` -> `AWS access key`, `github-pat` -> `GitHub PAT` (rule ids read as words)."""
    words = kind.lower().split("-")
    return " ".join(w.upper() if w in _ACRONYMS else _NAMES.get(w, w) for w in words)


def severity(detections: list[Detection], path: str) -> Severity:
    if any(not d.generic for d in detections):
        return Severity.ERROR
    return Severity.WARNING if is_test_or_docs(path) else Severity.ERROR


def _allowed_value(det: Detection, allow: SecretsAllow) -> bool:
    return any(re.search(pattern, det.value) for pattern in allow.values)


class SecretsAnalyzer:
    id = "secrets"

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        allow = ctx.config.secrets_allow
        findings: list[Finding] = []
        for changed in ctx.files:
            if not changed.analyzable or any(path_matches(g, changed.path) for g in allow.paths):
                continue
            added = changed.added_lines()
            detections = [d for d in scan_added(changed.path, added) if not _allowed_value(d, allow)]
            for number, group in groupby(detections, key=lambda d: d.line):
                on_line = list(group)
                kinds = sorted({d.kind for d in on_line})
                level = severity(on_line, changed.path)
                hint = "`pragma: allowlist secret` on the line, or `secrets.allow` in .reviewops.yaml"
                what = " and ".join(kind_label(k) for k in kinds)
                finding = Finding(
                    analyzer=self.id,
                    rule_id="secrets/" + kinds[0].lower().replace(" ", "-"),
                    path=changed.path,
                    start_line=number,
                    end_line=number,
                    severity=level,
                    message=(
                        f"Possible {what} added here. Remove it from the code, rotate the "
                        "credential (it is in the git history now) and load it from a secret store or "
                        f"environment variable. If it is a test or example value, mark it with {hint}."
                    ),
                    line_content=redact(added.get(number, ""), on_line),
                )
                if finding.fingerprint not in allow.fingerprints:
                    findings.append(finding)
        return findings
