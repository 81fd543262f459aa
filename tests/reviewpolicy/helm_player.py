"""Helm's install, upgrade, rollback and uninstall, played against the Kubernetes emulator in Helm's order.

What is reproduced (from Helm's documentation and pkg/release/util/kind_sorter.go):
- CRDs in the chart's `crds/` folder are created first on install (never on upgrade), and only then is the
  release's kind mapping built: a template of a kind the cluster does not know fails the whole install,
  as `helm install` fails with "no matches for kind".
- Hooks run per phase (pre-install, post-install, pre-upgrade, ...), sorted by `helm.sh/hook-weight`, then
  kind (install order), then name; `before-hook-creation` deletes the previous hook object, `hook-succeeded`
  deletes it after success. Helm waits for hook Jobs: the emulator has no Job controller, so the player marks
  them Complete (a cluster where the migration succeeds). Hook objects are not part of the release: nothing
  deletes them on uninstall but their own delete policy.
- Release objects are created in Helm's InstallOrder; an upgrade or rollback creates new objects, patches
  existing ones with a three-way merge (fields the chart removed are deleted; fields it sets are set back,
  so a live edit of a chart-managed field does not survive; status is a subresource and is never touched)
  and deletes objects the new revision no longer has; uninstall deletes in UninstallOrder without waiting
  (`helm uninstall` without `--wait`). `helm.sh/resource-policy: keep` objects are left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import helm_python
import httpx
import yaml

from tests.reviewpolicy.emulator import TEST_AGENT, EmulatorThread

INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
]  # fmt: skip
UNINSTALL_ORDER = [
    "APIService", "Ingress", "IngressClass", "Service", "CronJob", "Job", "StatefulSet",
    "HorizontalPodAutoscaler", "Deployment", "ReplicaSet", "ReplicationController", "Pod", "DaemonSet",
    "RoleBindingList", "RoleBinding", "RoleList", "Role", "ClusterRoleBindingList", "ClusterRoleBinding",
    "ClusterRoleList", "ClusterRole", "CustomResourceDefinition", "PersistentVolumeClaim", "PersistentVolume",
    "StorageClass", "ConfigMap", "SecretList", "Secret", "ServiceAccount", "PodDisruptionBudget",
    "PodSecurityPolicy", "LimitRange", "ResourceQuota", "NetworkPolicy", "Namespace", "PriorityClass",
]  # fmt: skip
HOOK = "helm.sh/hook"


class HelmError(Exception):
    """What `helm` would print and exit non-zero with."""


def kind_rank(kind: str, order: list[str]) -> tuple[int, str]:
    """Helm's lessByKind: known kinds by the list, unknown kinds last (alphabetically)."""
    return (order.index(kind), "") if kind in order else (len(order), kind)


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch that turns any live object into `modified` for the fields the chart manages and
    removes those `original` had and `modified` dropped (Helm's three-way merge for custom resources)."""
    patch: dict[str, Any] = {}
    for key in (original or {}).keys() - modified.keys():
        patch[key] = None
    for key, value in modified.items():
        old = (original or {}).get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            patch[key] = three_way_patch(old, value)
        else:
            patch[key] = value
    return patch


@dataclass
class Revision:
    number: int
    values: dict[str, Any]
    manifests: list[dict[str, Any]]
    hooks: list[dict[str, Any]]


@dataclass
class HelmPlayer:
    """One release of `chart_dir` in `namespace` of the emulated cluster."""

    cluster: EmulatorThread
    chart: helm_python.Chart
    release: str
    namespace: str
    revisions: list[Revision] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.cluster.url, timeout=10, headers={"User-Agent": TEST_AGENT})

    # --- the commands ---

    def install(self, values: dict[str, Any]) -> None:
        for crd in self.chart.crds:
            self._create_crd(yaml.safe_load(crd["data"]))
        revision = self._render(values, 1, install=True)
        self._check_kinds(revision)
        self._hooks(revision, "pre-install")
        for obj in self._sorted(revision.manifests, INSTALL_ORDER):
            self._create(obj)
        self._hooks(revision, "post-install")
        self.revisions.append(revision)

    def upgrade(self, values: dict[str, Any]) -> None:
        revision = self._render(values, len(self.revisions) + 1, install=False)
        self._check_kinds(revision)
        self._check_conflicts(self.revisions[-1], revision)  # before any hook, as Helm does
        self._hooks(revision, "pre-upgrade")
        self._apply(self.revisions[-1], revision)
        self._hooks(revision, "post-upgrade")
        self.revisions.append(revision)

    def rollback(self, to: int) -> None:
        target = self.revisions[to - 1]
        revision = Revision(len(self.revisions) + 1, target.values, target.manifests, target.hooks)
        self._hooks(revision, "pre-rollback")
        self._apply(self.revisions[-1], revision)
        self._hooks(revision, "post-rollback")
        self.revisions.append(revision)

    def uninstall(self) -> None:
        current = self.revisions[-1]
        self._hooks(current, "pre-delete")
        for obj in self._sorted(current.manifests, UNINSTALL_ORDER):
            if (obj["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep":
                continue
            self._delete(obj)
        self._hooks(current, "post-delete")

    def close(self) -> None:
        self.http.close()

    # --- the emulated API calls ---

    def path(self, obj: dict[str, Any], *, named: bool = True) -> str:
        group_version, kind = obj["apiVersion"], obj["kind"]
        info = self._resource(group_version, kind)
        if info is None:
            raise HelmError(f'resource mapping not found for kind "{kind}" in version "{group_version}"')
        resource, namespaced = info
        prefix = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
        ns = f"/namespaces/{obj['metadata'].get('namespace') or self.namespace}" if namespaced else ""
        name = f"/{obj['metadata']['name']}" if named else ""
        return f"{prefix}{ns}/{resource}{name}"

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        response = self.http.get(self.path(obj))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def _resource(self, group_version: str, kind: str) -> tuple[str, bool] | None:
        assert self.cluster.emulator is not None
        group, _, version = group_version.rpartition("/")
        for key, info in list(self.cluster.emulator.resources.items()):
            if key.group == group and key.version == version and info.kind == kind:
                return str(key.plural), bool(info.namespaced)
        return None

    def _create(self, obj: dict[str, Any]) -> None:
        response = self.http.post(self.path(obj, named=False), json=obj)
        if response.status_code == 409:
            raise HelmError(f"{obj['kind']}/{obj['metadata']['name']} exists and is not part of the release")
        response.raise_for_status()
        self.log.append(f"create {obj['kind']}/{obj['metadata']['name']}")

    def _patch(self, obj: dict[str, Any], patch: dict[str, Any]) -> None:
        response = self.http.patch(
            self.path(obj), json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        response.raise_for_status()
        self.log.append(f"patch {obj['kind']}/{obj['metadata']['name']}")

    def _delete(self, obj: dict[str, Any]) -> None:
        response = self.http.delete(self.path(obj))
        if response.status_code != 404:
            response.raise_for_status()
        self.log.append(f"delete {obj['kind']}/{obj['metadata']['name']}")

    def _create_crd(self, crd: dict[str, Any]) -> None:
        if self.get(crd) is None:  # Helm skips CRDs that exist already
            self._create(crd)
        # Helm waits for the CRD to be Established; in the emulator that is the kind becoming known.
        if crd["spec"]["group"] == "reviewops.dev":
            self.cluster.declare_reviewpolicies()

    # --- the plumbing ---

    def _render(self, values: dict[str, Any], number: int, *, install: bool) -> Revision:
        out = self.chart.render(
            values, name=self.release, namespace=self.namespace, revision=number,
            is_install=install, is_upgrade=not install,
        )  # fmt: skip
        docs = [
            doc
            for path, text in sorted(out.items())
            if path.endswith((".yaml", ".yml"))
            for doc in yaml.safe_load_all(text)
            if doc
        ]
        hooks = [d for d in docs if HOOK in (d["metadata"].get("annotations") or {})]
        manifests = [d for d in docs if HOOK not in (d["metadata"].get("annotations") or {})]
        return Revision(number, values, manifests, hooks)

    def _check_kinds(self, revision: Revision) -> None:
        """Helm builds every object's REST mapping before it creates anything."""
        for obj in revision.manifests + revision.hooks:
            self.path(obj)

    @staticmethod
    def _sorted(objs: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
        return sorted(objs, key=lambda o: kind_rank(o["kind"], order))

    def _hooks(self, revision: Revision, phase: str) -> None:
        def annotations(o: dict[str, Any]) -> dict[str, str]:
            return dict(o["metadata"].get("annotations") or {})

        hooks = [h for h in revision.hooks if phase in annotations(h)[HOOK].split(",")]
        hooks.sort(
            key=lambda h: (
                int(annotations(h).get("helm.sh/hook-weight", "0")),
                kind_rank(h["kind"], INSTALL_ORDER),
                h["metadata"]["name"],
            )
        )
        for hook in hooks:
            policies = annotations(hook).get("helm.sh/hook-delete-policy", "before-hook-creation").split(",")
            if "before-hook-creation" in policies and self.get(hook) is not None:
                self._delete(hook)
            self._create(hook)
            if hook["kind"] == "Job":
                self._complete_job(hook)
            if "hook-succeeded" in policies:
                self._delete(hook)

    def _check_conflicts(self, current: Revision, target: Revision) -> None:
        """Objects new to the release that exist already must be adoptable."""
        known = {(o["kind"], o["metadata"]["name"]) for o in current.manifests}
        for obj in target.manifests:
            if (obj["kind"], obj["metadata"]["name"]) not in known and (live := self.get(obj)) is not None:
                self._check_adoptable(live)

    def _check_adoptable(self, live: dict[str, Any]) -> None:
        """Helm takes over an existing object only if it carries the release's ownership metadata."""
        meta = live["metadata"]
        annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
        if not (
            labels.get("app.kubernetes.io/managed-by") == "Helm"
            and annotations.get("meta.helm.sh/release-name") == self.release
            and annotations.get("meta.helm.sh/release-namespace") == self.namespace
        ):
            raise HelmError(
                f'{live["kind"]} "{meta["name"]}" in namespace "{self.namespace}" exists and cannot be '
                "imported into the current release: invalid ownership metadata"
            )

    def _complete_job(self, job: dict[str, Any]) -> None:
        """The migration Job succeeds (the emulator runs no pods): what Helm waits for."""
        response = self.http.patch(
            self.path(job) + "/status",
            json={"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    def _apply(self, current: Revision, target: Revision) -> None:
        def key(o: dict[str, Any]) -> tuple[str, str, str]:
            return (o["apiVersion"], o["kind"], o["metadata"]["name"])

        old = {key(o): o for o in current.manifests}
        new = {key(o): o for o in target.manifests}
        for obj in self._sorted(list(new.values()), INSTALL_ORDER):
            if self.get(obj) is None:
                self._create(obj)
            else:
                self._patch(obj, three_way_patch(old.get(key(obj)), obj))
        for k in old.keys() - new.keys():
            obj = old[k]
            if (obj["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") != "keep":
                self._delete(obj)
