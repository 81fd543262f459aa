"""`secrets`: credentials on added lines. The secret is never echoed: message, line_content and
fingerprint are built from the redacted line only."""

from __future__ import annotations

from reviewops.analysis.model import AnalysisContext, Finding, Severity
from reviewops.analysis.secretscan import detect, redact


class SecretsAnalyzer:
    id = "secrets"

    def analyze(self, ctx: AnalysisContext) -> list[Finding]:
        findings: list[Finding] = []
        for changed in ctx.files:
            if not changed.analyzable:
                continue
            for number, text in sorted(changed.added_lines().items()):
                detections = detect(changed.path, text)
                if not detections:
                    continue
                kinds = sorted({d.kind for d in detections})
                findings.append(
                    Finding(
                        analyzer=self.id,
                        rule_id="secrets/" + kinds[0].lower().replace(" ", "-"),
                        path=changed.path,
                        start_line=number,
                        end_line=number,
                        severity=Severity.ERROR,
                        message=(
                            f"Possible {' and '.join(kinds)} added here. Remove it from the code, rotate the "
                            "credential (it is in the git history now) and load it from a secret store or "
                            "environment variable. If it is a test value, mark the line "
                            "`pragma: allowlist secret`."
                        ),
                        line_content=redact(text, detections),
                    )
                )
        return findings
