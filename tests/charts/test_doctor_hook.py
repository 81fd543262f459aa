"""`helm test` runs `reviewops doctor` in a Pod with the release's configuration and least privilege."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from tests.charts.chart import Rendered, render, scenario

DOCTOR = "reviewops-doctor"
# What the doctor's checks read; the admin token is not among them.
DOCTOR_CREDENTIALS = {"database-url", "redis-url", "webhook-secrets", "llm-api-key"}


def doctor_pod(rendered: Rendered) -> dict[str, Any]:
    return rendered.one("Pod", DOCTOR)


def test_the_doctor_is_a_helm_test_hook_with_the_releases_configuration(rendered: Rendered) -> None:
    pod = doctor_pod(rendered)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    kubernetes_validate.validate(pod, "1.31.0", strict=True)
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["args"] == ["doctor"] and spec["restartPolicy"] == "Never"
    worker = rendered.one("Deployment", "reviewops-worker")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == worker["image"]
    assert container["envFrom"] == [{"configMapRef": {"name": "reviewops-config"}}]
    secret_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert secret_keys == DOCTOR_CREDENTIALS
    secret_names = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    api = rendered.one("Deployment", "reviewops-api")["spec"]["template"]["spec"]["containers"][0]
    assert secret_names == {e["valueFrom"]["secretKeyRef"]["name"] for e in api["env"] if "valueFrom" in e}


def test_the_doctor_pod_meets_the_restricted_pod_security_standard(rendered: Rendered) -> None:
    spec = doctor_pod(rendered)["spec"]
    assert spec["automountServiceAccountToken"] is False, "the doctor never calls the Kubernetes API"
    # Its own ServiceAccount, bound to nothing (never the namespace's `default`).
    assert spec["serviceAccountName"] == "reviewops-doctor"
    bound = {s["name"] for kind in ("RoleBinding", "ClusterRoleBinding") for b in rendered.of_kind(kind)
             for s in b["subjects"]}  # fmt: skip
    assert "reviewops-doctor" not in bound
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    for container in spec["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]
        assert not sc["capabilities"].get("add") and not sc.get("privileged")
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= {"emptyDir", "secret", "configMap", "projected"}, volume


def test_the_app_key_reaches_the_doctor_as_the_worker_gets_it() -> None:
    r = scenario("everything-enabled")
    spec = doctor_pod(r)["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    worker = r.one("Deployment", "reviewops-worker")["spec"]["template"]["spec"]
    worker_env = {e["name"]: e for e in worker["containers"][0]["env"]}
    assert env["REVIEWOPS_GITHUB_PRIVATE_KEY_FILE"] == worker_env["REVIEWOPS_GITHUB_PRIVATE_KEY_FILE"]
    assert [v for v in spec["volumes"] if v["name"] == "github-app-key"] == [
        v for v in worker["volumes"] if v["name"] == "github-app-key"
    ]
    assert "REVIEWOPS_GITHUB_PRIVATE_KEY_FILE" not in {
        e["name"] for e in doctor_pod(scenario("default"))["spec"]["containers"][0]["env"]
    }


def test_the_doctor_can_be_left_out() -> None:
    assert render({"doctor": {"enabled": False}}).of_kind("Pod") == []
