"""The optional pg_dump CronJob: off by default, restricted like every pod, and refused without a volume."""

from __future__ import annotations

import pytest

from tests.charts.chart import render, scenario


def test_backup_is_off_by_default() -> None:
    assert not [d for d in scenario("default").docs if d["kind"] == "CronJob"]


def test_backup_cronjob_dumps_to_the_claim_and_keeps_thirty_days() -> None:
    rendered = scenario("everything-enabled")
    cron = rendered.one("CronJob", "reviewops-backup")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    script = container["args"][0]
    assert "pg_dump -Fc" in script and "-mtime +30 -delete" in script and ".partial" in script
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["reviewops-backups"]
    assert container["resources"]["limits"]["memory"]


def test_backup_without_a_volume_is_refused() -> None:
    with pytest.raises(Exception, match=r"backup\.persistentVolumeClaim is required"):
        render({"backup": {"enabled": True}})
