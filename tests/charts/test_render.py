"""The chart renders, lints and validates for every scenario, and every pod is locked down."""

from __future__ import annotations

import copy
from typing import Any

import dramatiq
import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.charts.chart import (
    CHART_DIR,
    NAMESPACE,
    PROMETHEUS_OPERATOR_GROUP,
    SCENARIOS,
    Rendered,
    chart,
    render,
    scenario,
    scenario_values,
)

KUBE_VERSIONS = ["1.29.0", "1.33.0"]
COMPONENTS = ("api", "worker", "operator")


def crd_schema(r: Rendered) -> dict[str, Any]:
    crd = yaml.safe_load((CHART_DIR / "crds" / "reviewpolicy-crd.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_lint_strict_is_clean(name: str) -> None:
    for kube in ("v1.29.0", "v1.33.0"):
        report = helm_python.lint(CHART_DIR, scenario_values(name), strict=True, kube_version=kube)
        assert report["errors"] == [] and report["messages"] == [], report


def test_every_manifest_is_valid_kubernetes(rendered: Rendered) -> None:
    for doc in rendered.docs:
        group = doc["apiVersion"].split("/")[0]
        if group == PROMETHEUS_OPERATOR_GROUP:
            # ServiceMonitor/PrometheusRule are Prometheus Operator CRDs, kubernetes-validate has no schema
            # for them. The rules are checked by promtool (test_alerts.py) instead.
            continue
        if doc["kind"] == "ReviewPolicy":
            jsonschema.validate(doc, crd_schema(rendered))
            continue
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_review_policy_matches_the_crd_and_the_worker(rendered: Rendered) -> None:
    policies = rendered.of_kind("ReviewPolicy")
    if not rendered.values.get("reviewPolicy", {}).get("enabled", True):
        assert policies == []
        return
    (policy,) = policies
    jsonschema.validate(policy, crd_schema(rendered))
    worker = rendered.one("Deployment", f"{'reviewops'}-worker")
    assert policy["spec"]["workers"]["deploymentName"] == worker["metadata"]["name"]
    assert policy["metadata"]["namespace"] == worker["metadata"]["namespace"] == NAMESPACE


def test_crd_comes_from_crds_and_the_policy_is_a_release_object(rendered: Rendered) -> None:
    """Helm installs crds/ before any template (and never deletes it): the policy needs no hook."""
    assert rendered.of_kind("CustomResourceDefinition") == [], "not a template"
    (crd,) = [yaml.safe_load(c["data"]) for c in chart().crds]
    assert crd["metadata"]["name"] == "reviewpolicies.reviewops.dev"
    assert crd["spec"]["names"]["shortNames"] == ["rp"]
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(crd, version, strict=True)
    for doc in rendered.of_kind("ReviewPolicy"):
        assert "helm.sh/hook" not in (doc["metadata"].get("annotations") or {}), "an ordinary release object"
        assert "finalizers" not in doc["metadata"]


def test_every_pod_is_locked_down(rendered: Rendered) -> None:
    pods = rendered.pod_specs()
    assert len(pods) >= 4
    for name, pod in pods:
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0, name
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"] + pod.get("initContainers", []):
            csc = container["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, name
            assert csc["readOnlyRootFilesystem"] is True, name
            assert csc["runAsNonRoot"] is True, name
            assert csc["capabilities"]["drop"] == ["ALL"] and not csc["capabilities"].get("add"), name
            assert csc["seccompProfile"]["type"] == "RuntimeDefault", name
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") == "tmp", f"{name}: a writable /tmp (read-only root filesystem)"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        # Service links inject REVIEWOPS_API_PORT=tcp://... style variables: noise in the settings' prefix.
        assert pod["enableServiceLinks"] is False, name
        token = pod.get("automountServiceAccountToken")
        assert token is (name.endswith("-operator")), f"{name}: only the operator talks to the Kubernetes API"


def test_selectors_never_carry_the_chart_version(rendered: Rendered) -> None:
    for doc in rendered.docs:
        spec = doc.get("spec") or {}
        selectors = []
        if isinstance(spec.get("selector"), dict):
            selectors.append(spec["selector"].get("matchLabels", spec["selector"]))
        if isinstance(spec.get("podSelector"), dict):
            selectors.append(spec["podSelector"].get("matchLabels", {}))
        for selector in selectors:
            assert "helm.sh/chart" not in selector, doc["metadata"]["name"]
            assert "app.kubernetes.io/version" not in selector, doc["metadata"]["name"]


def test_every_resource_has_the_recommended_labels(rendered: Rendered) -> None:
    for doc in rendered.docs:
        labels = doc["metadata"].get("labels", {})
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/version",
            "helm.sh/chart",
        ):
            assert key in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks {key}"


def test_selectors_match_their_pods(rendered: Rendered) -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in rendered.of_kind("Deployment")
    }
    for doc in rendered.of_kind("Service") + rendered.of_kind("PodDisruptionBudget"):
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        matched = [n for n, labels in pods.items() if selector.items() <= labels.items()]
        assert len(matched) == 1, f"{doc['kind']}/{doc['metadata']['name']} selects {matched}"


def test_components_are_wired_as_the_issue_says(rendered: Rendered) -> None:
    api = rendered.one("Deployment", "reviewops-api")["spec"]["template"]["spec"]
    assert api["containers"][0]["args"][0] == "api"
    worker_deploy = rendered.one("Deployment", "reviewops-worker")
    worker = worker_deploy["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"] == ["worker"]
    # scale-down must never kill a review mid-way: grace >= dramatiq's task time limit
    time_limit_s = dramatiq.middleware.TimeLimit().time_limit / 1000
    assert worker["terminationGracePeriodSeconds"] >= time_limit_s
    config = rendered.one("ConfigMap", "reviewops-config")["data"]
    assert worker["terminationGracePeriodSeconds"] > float(
        config["REVIEWOPS_WORKER_SHUTDOWN_TIMEOUT_SECONDS"]
    )
    # the operator owns the worker count; an upgrade must not reset it
    assert "replicas" not in worker_deploy["spec"]
    operator = rendered.one("Deployment", "reviewops-operator")
    assert operator["spec"]["replicas"] == 1 and operator["spec"]["strategy"] == {"type": "RollingUpdate"}
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "operator"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    job = rendered.one("Job", "reviewops-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_settings_reach_the_processes_under_their_real_names(rendered: Rendered) -> None:
    from reviewops.settings import Settings

    known = {f"REVIEWOPS_{name.upper()}" for name in Settings.model_fields}
    coming = {
        "REVIEWOPS_LLM_BASE_URL",
        "REVIEWOPS_LLM_API_KEY",
        "REVIEWOPS_LLM_MODEL",
        "REVIEWOPS_MOCK_LLM",
        "REVIEWOPS_CORS_ORIGINS",
        "REVIEWOPS_OPERATOR_METRICS_PORT",
    }
    # Settings that other branches add (LLM, CORS, operator); once merged they are in `known` and this
    # exemption stops applying by itself. Drop the set when all of them are on main.
    not_yet = coming - known
    config = rendered.one("ConfigMap", "reviewops-config")["data"]
    names = set(config)
    for _, pod in rendered.pod_specs():
        for container in pod["containers"]:
            names |= {e["name"] for e in container.get("env", [])}
    unknown = names - known - not_yet - {"PROMETHEUS_MULTIPROC_DIR"}
    assert not unknown, f"the chart sets variables no process reads: {unknown}"
    assert config["REVIEWOPS_HOST"] == "0.0.0.0" and config["REVIEWOPS_PORT"] == "8000"


def test_secret_or_existing_secret(rendered: Rendered) -> None:
    existing = rendered.values.get("secrets", {}).get("existingSecret")
    secrets = [
        s for s in rendered.of_kind("Secret") if "helm.sh/hook" not in s["metadata"].get("annotations", {})
    ]
    if existing:
        assert secrets == []
        refs = set()
        for _, pod in rendered.pod_specs():
            for c in pod["containers"]:
                refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "valueFrom" in e}
        assert refs == {existing}
        return
    (secret,) = secrets
    data = secret["stringData"]
    assert {"database-url", "redis-url", "webhook-secrets", "admin-token", "llm-api-key"} <= set(data)
    given = rendered.values.get("secrets", {}).get("adminToken")
    if given:
        assert data["admin-token"] == given
    else:
        assert len(data["admin-token"]) >= 32, "a generated admin token when none is given"


def test_github_app_key_is_a_file_only_the_worker_and_the_doctor_get() -> None:
    r = scenario("everything-enabled")
    assert "REVIEWOPS_GITHUB_APP_ID" in r.one("ConfigMap", "reviewops-config")["data"]
    for name, pod in r.pod_specs():
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert "REVIEWOPS_GITHUB_PRIVATE_KEY" not in env, name
        mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
        if name not in ("Deployment/reviewops-worker", "Pod/reviewops-doctor"):  # the doctor checks GET /app
            assert "github-app-key" not in mounts and "REVIEWOPS_GITHUB_PRIVATE_KEY_FILE" not in env, name
            continue
        path = env["REVIEWOPS_GITHUB_PRIVATE_KEY_FILE"]["value"]
        mount = mounts["github-app-key"]
        assert path.startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
        (volume,) = [v for v in pod["volumes"] if v["name"] == "github-app-key"]
        assert volume["secret"]["items"] == [{"key": "github-private-key", "path": path.rsplit("/", 1)[1]}]


# Which credentials each process gets: only what its code reads (the operator's replay Jobs copy the worker).
CREDENTIALS = {
    "Deployment/reviewops-api": {"database-url", "redis-url", "webhook-secrets", "admin-token"},
    "Deployment/reviewops-worker": {"database-url", "redis-url", "llm-api-key"},
    "Deployment/reviewops-operator": {"redis-url"},
    "Job/reviewops-migrations": {"database-url"},
    "CronJob/reviewops-backup": {"database-url"},
    # The doctor checks the database, Redis, the webhook secret against the App and the LLM (not the admin token).
    "Pod/reviewops-doctor": {"database-url", "redis-url", "webhook-secrets", "llm-api-key"},
}


def test_each_component_gets_only_its_credentials(rendered: Rendered) -> None:
    for name, pod in rendered.pod_specs():
        (container,) = pod["containers"]
        keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
        assert keys == CREDENTIALS[name], name
        assert all("secretRef" not in source for source in container.get("envFrom", [])), name


def test_optional_parts_follow_their_toggles() -> None:
    default, everything = scenario("default"), scenario("everything-enabled")
    for kind in ("Ingress", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"):
        assert default.of_kind(kind) == [], kind
        assert everything.of_kind(kind), kind
    dashboards = [
        c for c in everything.of_kind("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert {c["metadata"]["name"] for c in dashboards} == {
        "reviewops-dashboard-overview",
        "reviewops-dashboard-operator",
    }
    assert "replicas" not in everything.one("Deployment", "reviewops-api")["spec"], (
        "the HPA owns the API's replicas"
    )
    hpa = everything.one("HorizontalPodAutoscaler", "reviewops-api")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    no_operator = render({"operator": {"enabled": False}, "reviewPolicy": {"enabled": False}})
    assert [d["metadata"]["name"] for d in no_operator.of_kind("Deployment")] == [
        "reviewops-api",
        "reviewops-worker",
    ]
    assert no_operator.one("Deployment", "reviewops-worker")["spec"]["replicas"] == 1
    assert no_operator.of_kind("Role") == [] and no_operator.of_kind("ClusterRole") == []


def test_ingress_tls_scenario() -> None:
    r = scenario("ingress-tls")
    (ingress,) = r.of_kind("Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["reviewops.example.com"], "secretName": "reviewops-tls"}]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "reviewops-api"
    assert "https://reviewops.example.com/webhooks/github" in r.notes


def test_scale_to_zero_scenario() -> None:
    r = scenario("scale-to-zero")
    policy = r.one("ReviewPolicy", "reviewops")
    assert policy["spec"]["workers"]["minReplicas"] == 0
    assert r.of_kind("PodDisruptionBudget") and all(
        "worker" not in p["metadata"]["name"] for p in r.of_kind("PodDisruptionBudget")
    )


def test_notes_tell_the_webhook_url_admin_token_and_test_webhook(rendered: Rendered) -> None:
    assert "/webhooks/github" in rendered.notes
    assert "admin-token" in rendered.notes
    assert "reviewops send-test-webhook --url" in rendered.notes


@pytest.mark.parametrize(
    "typo",
    [
        {"api": {"replica": 3}},
        {"image": {"tga": "1.0"}},
        {"secrets": {"existingSecrets": "x"}},
        {"metrics": {"serviceMonitor": {"enable": True}}},
        {"reviewPolicy": {"workers": {"maxReplica": 3}}},
        {"operatr": {"enabled": False}},
        {"worker": {"shutdownTimeoutSeconds": 30}},
        {"config": {"extraEnv": {"LOG_LEVEL": "DEBUG"}}},
    ],
)
def test_schema_rejects_typos_and_bad_values(typo: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        chart().validate_schema(typo)
    with pytest.raises(helm_python.HelmValuesError):
        render(typo)


def test_schema_is_draft7_and_closed_everywhere() -> None:
    import sys

    from tests.charts.chart import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    import chart_schema

    assert chart_schema.main([]) == 0, "run: python scripts/chart_schema.py --write"
    schema = chart().schema
    assert schema is not None
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and path != "/properties/global":  # Helm's, shared with parents
                closed = node.get("additionalProperties") is False and "properties" in node
                typed_map = isinstance(node.get("additionalProperties"), dict) and "properties" not in node
                assert closed or typed_map, f"{path} is open"
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema, "")
    # The defaults themselves satisfy the schema.
    jsonschema.validate(yaml.safe_load((CHART_DIR / "values.yaml").read_text()), schema)


def test_every_value_is_documented_helm_docs_style() -> None:
    """Each leaf value (or the block it belongs to) has a `# --` comment right above it."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    undocumented = []
    covered_below: int | None = None  # indentation of a documented block whose children need no comment
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        if covered_below is not None and indent > covered_below:
            continue
        covered_below = None
        key, _, rest = stripped.partition(":")
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
            j -= 1
        documented = j >= 0 and lines[j].strip().startswith("# --")
        is_section = (
            rest.strip() == ""
            and i + 1 < len(lines)
            and (
                len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent
                or lines[i + 1].strip().startswith("#")
            )
        )
        if documented:
            covered_below = indent
        elif not is_section:
            undocumented.append(f"line {i + 1}: {key}")
    assert not undocumented, undocumented


def test_chart_metadata() -> None:
    meta = chart().metadata
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"] and meta["appVersion"]
    from reviewops import __version__

    assert meta["appVersion"] == __version__


def test_values_are_not_mutated_by_rendering() -> None:
    values = scenario_values("everything-enabled")
    before = copy.deepcopy(values)
    render(values)
    assert values == before


def test_readme_values_table_is_current() -> None:
    import sys

    from tests.charts.chart import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    import chart_values_table

    assert chart_values_table.main([]) == 0, "run: python scripts/chart_values_table.py --write"
    documented = {
        key for key, _ in chart_values_table.documented_keys((CHART_DIR / "values.yaml").read_text())
    }
    # every top-level value is in the table, directly or through its children
    for top in chart().values:
        assert any(k == top or k.startswith(top + ".") for k in documented), top


def test_several_uvicorn_workers_share_their_metrics() -> None:
    def api_env(values: dict[str, Any]) -> dict[str, Any]:
        pod = render(values).one("Deployment", "reviewops-api")["spec"]["template"]["spec"]
        return {e["name"]: e for e in pod["containers"][0]["env"]}

    assert "PROMETHEUS_MULTIPROC_DIR" not in api_env({})
    env = api_env({"api": {"uvicornWorkers": 3}})
    assert env["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith("/tmp/"), "the only writable place"


def test_reviews_in_flight_reaches_the_worker() -> None:
    """The chart's `worker.reviewsInFlight` is the worker's REVIEWOPS_REVIEWS_IN_FLIGHT; the deprecated
    `worker.threads` is passed on only when someone set it."""
    config = render({}).one("ConfigMap", "reviewops-config")["data"]
    assert config["REVIEWOPS_REVIEWS_IN_FLIGHT"] == "32" and "REVIEWOPS_WORKER_THREADS" not in config
    config = render({"worker": {"reviewsInFlight": 64, "threads": 8}}).one("ConfigMap", "reviewops-config")
    assert config["data"]["REVIEWOPS_REVIEWS_IN_FLIGHT"] == "64"
    assert config["data"]["REVIEWOPS_WORKER_THREADS"] == "8"
