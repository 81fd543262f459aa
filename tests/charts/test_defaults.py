"""Sane defaults and least privilege: resources on every container (checked by us and by checkov), the Ingress
publishes only the webhook endpoint, the API drains and spreads, and no binding ever names `default`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.charts.chart import ROOT, Rendered, render, scenario

CHECKOV_VERSION = "3.3.30"  # pinned; scripts/test installs it into .venv-checkov (its own dependencies)
# CPU requests, memory requests, memory limits. CKV_K8S_11 (CPU limits) is off by design: README "Resources".
CHECKOV_CHECKS = ("CKV_K8S_10", "CKV_K8S_12", "CKV_K8S_13")


def checkov_binary() -> str | None:
    for candidate in (os.environ.get("CHECKOV"), str(ROOT / ".venv-checkov" / "bin" / "checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("checkov")


def containers(r: Rendered) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name}/{c['name']}", c) for name, pod in r.pod_specs() for c in pod["containers"]]


def test_every_container_has_requests_and_a_memory_limit_but_no_cpu_limit(rendered: Rendered) -> None:
    for name, container in containers(rendered):
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources.get("requests") or {}), name
        assert "memory" in (resources.get("limits") or {}), name
        if not rendered.values:  # the chart's own defaults: CPU is throttled by nobody (README "Resources")
            assert "cpu" not in resources["limits"], name


def run_checkov(r: Rendered, folder: Path) -> dict[str, Any]:
    binary = checkov_binary()
    if binary is None:
        pytest.skip(f"checkov missing: pip install checkov=={CHECKOV_VERSION} (scripts/test does)")
    manifest = folder / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(r.docs))
    result = subprocess.run(
        [binary, "-f", str(manifest), "--framework", "kubernetes", "--check", ",".join(CHECKOV_CHECKS),
         "-o", "json", "--compact"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["summary"]["checkov_version"] == CHECKOV_VERSION
    return dict(report)


@pytest.mark.parametrize("name", ["default", "everything-enabled"])
def test_checkov_finds_no_container_without_requests_or_a_memory_limit(name: str, tmp_path: Path) -> None:
    r = scenario(name)
    report = run_checkov(r, tmp_path)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    # Each pod template was really looked at by each check (checkov skips some shapes silently).
    assert report["summary"]["passed"] == len(CHECKOV_CHECKS) * len(r.pod_specs())


def test_checkov_would_catch_a_missing_memory_limit(tmp_path: Path) -> None:
    """The check is live: a container with requests but no limits fails CKV_K8S_13."""
    r = render({"worker": {"resources": {"limits": None}}})  # Helm: null removes the default
    report = run_checkov(r, tmp_path)
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    assert failed == {("CKV_K8S_13", "Deployment.reviewops.reviewops-worker")}


def test_default_ingress_publishes_only_the_webhook_endpoint() -> None:
    r = render({"api": {"ingress": {"enabled": True}}})
    (ingress,) = r.of_kind("Ingress")
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/webhooks"], "not /metrics, /docs or the admin API"


def api_pod(values: dict[str, Any]) -> dict[str, Any]:
    return dict(render(values).one("Deployment", "reviewops-api")["spec"]["template"]["spec"])


def test_api_drains_before_stopping_and_spreads_over_nodes_and_zones() -> None:
    pod = api_pod({})
    (container,) = pod["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert pod["terminationGracePeriodSeconds"] == 35
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    selector = term["podAffinityTerm"]["labelSelector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "api"
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert (
        spread["whenUnsatisfiable"] == "ScheduleAnyway" and spread["labelSelector"]["matchLabels"] == selector
    )

    off = api_pod({"api": {"preStopDelaySeconds": 0, "podAntiAffinity": "none", "zoneSpread": False}})
    assert "lifecycle" not in off["containers"][0] and "affinity" not in off
    assert "topologySpreadConstraints" not in off
    hard = api_pod({"api": {"podAntiAffinity": "hard"}})
    assert hard["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    own = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    assert api_pod({"api": {"affinity": own}})["affinity"] == own, "the user's affinity replaces ours"


def bound_service_accounts(r: Rendered) -> set[str]:
    return {
        subject["name"]
        for kind in ("RoleBinding", "ClusterRoleBinding")
        for binding in r.of_kind(kind)
        for subject in binding["subjects"]
    }


def test_no_binding_ever_names_the_default_service_account(rendered: Rendered) -> None:
    assert "default" not in bound_service_accounts(rendered)
    for _, pod in rendered.pod_specs():
        assert pod.get("serviceAccountName") not in (None, "default")


@pytest.mark.parametrize("name", ["", "default"])
def test_without_created_accounts_a_real_name_is_required(name: str) -> None:
    with pytest.raises(helm_python.HelmError, match=r"serviceAccount\.name"):
        render({"serviceAccount": {"create": False, "name": name}})


def test_an_existing_service_account_gets_the_operator_binding() -> None:
    r = render({"serviceAccount": {"create": False, "name": "reviewops-runner"}})
    assert r.of_kind("ServiceAccount") == [s for s in r.of_kind("ServiceAccount") if "migrations" in str(s)]
    assert bound_service_accounts(r) == {"reviewops-runner"}
    for name, pod in r.pod_specs():
        if not name.startswith("Job/"):
            assert pod["serviceAccountName"] == "reviewops-runner", name
