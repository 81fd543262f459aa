"""promtool checks the rendered rules; every alert has promtool unit tests and a runbook section."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.charts.chart import CHART_DIR, ROOT, render
from tests.charts.promql import alert_rules, rule_groups

TESTS_FILE = CHART_DIR / "tests" / "alerts-test.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The alerts the issue asks for, by name (service down, webhook errors, ack latency, backlog at max workers,
# oldest message, dead letters, LLM failures, GitHub rate limit, operator reconcile).
REQUIRED = {
    "ReviewOpsTargetDown",
    "ReviewOpsWebhookErrorRatioHigh",
    "ReviewOpsWebhookAckLatencyHigh",
    "ReviewOpsBacklogGrowingAtMaxWorkers",
    "ReviewOpsOldestMessageTooOld",
    "ReviewOpsDeadLettersGrowing",
    "ReviewOpsLLMFailureRatioHigh",
    "ReviewOpsGitHubRateLimitLow",
    "ReviewOpsOperatorReconcileFailing",
    "ReviewOpsBrokerUnreachable",  # issue 17: the API stays ready without Redis, so an alert says so
}

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool missing: apt-get install prometheus")


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered rules as a plain Prometheus rule file, next to a copy of the unit tests."""
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}, sort_keys=False))
    shutil.copy(TESTS_FILE, folder / TESTS_FILE.name)
    return folder


def test_the_issue_alerts_exist() -> None:
    assert {r["alert"] for r in alert_rules()} == REQUIRED


@needs_promtool
def test_promtool_check_rules(rules_dir: Path) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=rules_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(REQUIRED)} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass(rules_dir: Path) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", TESTS_FILE.name], cwd=rules_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    spec = yaml.safe_load(TESTS_FILE.read_text())
    firing, quiet = set(), set()
    for case in spec["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == REQUIRED, f"no firing test for {REQUIRED - firing}"
    assert quiet == REQUIRED, f"no not-firing test for {REQUIRED - quiet}"


def test_every_alert_is_documented_with_a_runbook_anchor() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        url = annotations["runbook_url"]
        assert url.startswith("https://") and "docs/runbook.md#" in url
        assert url.split("#", 1)[1] in anchors, f"{rule['alert']}: no section {url} in docs/runbook.md"


def test_alert_labels_and_thresholds_come_from_values() -> None:
    r = render(
        {
            "metrics": {
                "prometheusRule": {
                    "enabled": True,
                    "alertLabels": {"team": "platform"},
                    "runbookBaseUrl": "https://wiki.example.com/rb",
                    "githubRateLimitRemainingThreshold": 123,
                    "llmFailureRatioThreshold": 0.5,
                }
            }
        }
    )
    (rule,) = r.of_kind("PrometheusRule")
    rules = {x["alert"]: x for g in rule["spec"]["groups"] for x in g["rules"]}
    assert all(x["labels"]["team"] == "platform" for x in rules.values())
    assert all(
        x["annotations"]["runbook_url"].startswith("https://wiki.example.com/rb#") for x in rules.values()
    )
    assert rules["ReviewOpsGitHubRateLimitLow"]["expr"].endswith("< 123")
    assert rules["ReviewOpsLLMFailureRatioHigh"]["expr"].rstrip().endswith("> 0.5")
