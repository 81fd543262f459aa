"""skaffold.yaml parses, uses the current schema and agrees with the chart: path, values files, image."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.charts.chart import CHART_DIR, ROOT, chart, render

SKAFFOLD = ROOT / "skaffold.yaml"


@pytest.fixture(scope="module")
def configs() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(SKAFFOLD.read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs}


@pytest.fixture(scope="module")
def main(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["reviewops"]


def release(main: dict[str, Any]) -> dict[str, Any]:
    (rel,) = main["deploy"]["helm"]["releases"]
    return dict(rel)


def test_current_schema(configs: dict[str, dict[str, Any]]) -> None:
    for config in configs.values():
        assert config["apiVersion"].startswith("skaffold/v4beta"), config["apiVersion"]
        assert config["kind"] == "Config"
    assert configs["reviewops"]["requires"] == [{"configs": ["reviewops-dependencies"]}]
    for path in configs["reviewops-dependencies"]["manifests"]["rawYaml"]:
        assert (ROOT / path).is_file(), path


def test_builds_the_image_from_the_dockerfile(main: dict[str, Any]) -> None:
    (artifact,) = main["build"]["artifacts"]
    assert artifact["image"] == "reviewops"
    assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()


def test_deploys_this_chart_with_the_built_image(main: dict[str, Any]) -> None:
    rel = release(main)
    chart_path = ROOT / rel["chartPath"]
    assert chart_path.resolve() == CHART_DIR.resolve()
    assert yaml.safe_load((chart_path / "Chart.yaml").read_text())["name"] == chart().name
    image = main["build"]["artifacts"][0]["image"]
    assert rel["setValueTemplates"] == {
        "image.repository": f"{{{{.IMAGE_REPO_{image}}}}}",
        "image.tag": f"{{{{.IMAGE_TAG_{image}}}}}",
    }
    assert set(chart().values["image"]) >= {"repository", "tag"}


def merged_values(paths: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in paths:
        file = ROOT / path
        assert file.is_file(), path
        values.update(yaml.safe_load(file.read_text()))
    values["image"] = {"repository": "reviewops", "tag": "dev"}
    return values


def test_dev_and_ci_values_are_valid_for_the_chart(main: dict[str, Any]) -> None:
    dev = release(main)["valuesFiles"]
    (ci_profile,) = [p for p in main["profiles"] if p["name"] == "ci"]
    (patch,) = [p for p in ci_profile["patches"] if p["path"].endswith("/valuesFiles")]
    for files in (dev, patch["value"]):
        values = merged_values(files)
        chart().validate_schema(values)
        r = render(values)
        assert r.one("Deployment", "reviewops-api")["spec"]["template"]["spec"]["containers"][0]["image"] == (
            "reviewops:dev"
        )
    ci_values = merged_values(patch["value"])
    assert "containerSecurityContext" not in ci_values, "CI runs the production security settings"


def test_dev_profile_port_forwards_api_and_metrics_of_real_resources(main: dict[str, Any]) -> None:
    (dev,) = [p for p in main["profiles"] if p["name"] == "dev"]
    rel = release(main)
    r = render(merged_values(rel["valuesFiles"]))
    forwards = {(f["resourceType"], f["resourceName"], f["port"]) for f in dev["portForward"]}
    assert all(f["namespace"] == rel["namespace"] for f in dev["portForward"])
    api = r.one("Service", "reviewops-api")
    assert ("service", "reviewops-api", api["spec"]["ports"][0]["port"]) in forwards
    for name, port in (("reviewops-worker", 9191), ("reviewops-operator", 9192)):
        deployment = r.one("Deployment", name)
        ports = {p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert port in ports and ("deployment", name, port) in forwards


def test_dev_profile_syncs_sources_into_the_installed_packages(main: dict[str, Any]) -> None:
    (dev,) = [p for p in main["profiles"] if p["name"] == "dev"]
    (artifact,) = dev["build"]["artifacts"]
    assert artifact["image"] == main["build"]["artifacts"][0]["image"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    python = next(
        line.split("=", 1)[1] for line in dockerfile.splitlines() if line.startswith("ARG PYTHON_VERSION=")
    )
    for rule in artifact["sync"]["manual"]:
        assert rule["dest"] == f"/opt/venv/lib/python{python}/site-packages"
        sources = glob.glob(rule["src"], root_dir=ROOT, recursive=True)
        assert sources, f"{rule['src']} matches nothing"
        for source in sources:
            package = Path(source.removeprefix(rule.get("strip", ""))).parts[0]
            assert package in {"reviewops", "api", "worker", "reviewpolicy"}, source


def test_skaffold_schema_shape(configs: dict[str, dict[str, Any]]) -> None:
    """The fields used exist in skaffold's v4beta schema (a subset of it, enough to catch typos)."""
    release_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "chartPath"],
        "properties": {
            k: {}
            for k in (
                "name",
                "chartPath",
                "namespace",
                "createNamespace",
                "wait",
                "valuesFiles",
                "setValueTemplates",
                "setValues",
            )
        },
    }
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            k: {}
            for k in (
                "apiVersion",
                "kind",
                "metadata",
                "requires",
                "build",
                "manifests",
                "deploy",
                "profiles",
                "portForward",
            )
        },
    }
    for config in configs.values():
        jsonschema.validate(config, config_schema)
        for rel in config.get("deploy", {}).get("helm", {}).get("releases", []):
            jsonschema.validate(rel, release_schema)
        for profile in config.get("profiles", []):
            assert set(profile) <= {"name", "activation", "build", "deploy", "portForward", "patches"}


def test_dev_dependencies_are_valid_kubernetes(configs: dict[str, dict[str, Any]]) -> None:
    import kubernetes_validate

    namespace = release(configs["reviewops"])["namespace"]
    assert configs["reviewops-dependencies"]["deploy"]["kubectl"]["defaultNamespace"] == namespace
    for path in configs["reviewops-dependencies"]["manifests"]["rawYaml"]:
        docs = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]
        assert {d["metadata"]["name"] for d in docs if d["kind"] != "Namespace"} == {
            "reviewops-dev-postgres",
            "reviewops-dev-redis",
        }
        for doc in docs:
            kubernetes_validate.validate(doc, "1.29.0", strict=True)
            # In the release's namespace, so the chart's short Service names resolve.
            if doc["kind"] == "Namespace":
                assert doc["metadata"]["name"] == namespace
            else:
                assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]
    # the dev values point the chart at exactly these Services
    values = yaml.safe_load((ROOT / "deploy" / "skaffold" / "dev-values.yaml").read_text())
    assert "@reviewops-dev-postgres:5432/" in values["secrets"]["databaseUrl"]
    assert values["secrets"]["redisUrl"].startswith("redis://reviewops-dev-redis:6379/")
