"""Rendering the chart with Helm's own Go SDK (helm-python-sdk), shared by the chart tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "reviewops"
RELEASE = "reviewops"
NAMESPACE = "reviewops"
SCENARIOS = [
    "default",
    *sorted(p.name.removesuffix("-values.yaml") for p in (CHART_DIR / "ci").glob("*-values.yaml")),
]
PROMETHEUS_OPERATOR_GROUP = "monitoring.coreos.com"


@dataclass(frozen=True)
class Rendered:
    """One scenario rendered: the manifests (hooks included) and NOTES.txt."""

    values: dict[str, Any]
    docs: list[dict[str, Any]]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def pod_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """Every pod template: Deployments, Jobs (and CronJobs, should the chart ever ship one)."""
        out = []
        for d in self.docs:
            if d["kind"] == "Pod":  # helm test hooks
                out.append((f"Pod/{d['metadata']['name']}", d["spec"]))
            elif d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
                out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
            elif d["kind"] == "CronJob":
                out.append(
                    (f"CronJob/{d['metadata']['name']}", d["spec"]["jobTemplate"]["spec"]["template"]["spec"])
                )
        return out


@cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def scenario_values(scenario: str) -> dict[str, Any]:
    if scenario == "default":
        return {}
    loaded = yaml.safe_load((CHART_DIR / "ci" / f"{scenario}-values.yaml").read_text())
    return dict(loaded or {})


def render(values: dict[str, Any]) -> Rendered:
    out = chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    notes = next((text for path, text in out.items() if path.endswith("NOTES.txt")), "")
    return Rendered(values=values, docs=docs, notes=notes)


@cache
def scenario(name: str) -> Rendered:
    """A scenario rendered once per test session (rendering is the slow part of the chart tests)."""
    return render(scenario_values(name))
