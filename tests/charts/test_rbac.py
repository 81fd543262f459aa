"""The operator's RBAC grants exactly what its code calls (reviewpolicy.rbac.RBAC_RULES), no more, no less."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

import pytest

from tests.charts.chart import NAMESPACE, Rendered, render, scenario

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)

# What the operator needs (see operator/reviewpolicy/kube.py and kopf's own calls). Kept here as the chart's
# contract; test_rbac_matches_the_operator_code compares the chart with the code's RBAC_RULES once it exists.
EXPECTED: set[Grant] = {
    ("reviewops.dev", "reviewpolicies", "list"),
    ("reviewops.dev", "reviewpolicies", "watch"),
    ("reviewops.dev", "reviewpolicies", "patch"),
    ("reviewops.dev", "reviewpolicies/status", "patch"),
    ("", "events", "create"),
    ("apps", "deployments", "get"),
    ("apps", "deployments/scale", "patch"),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "list"),
    ("batch", "cronjobs", "get"),
    ("batch", "cronjobs", "create"),
    ("batch", "cronjobs", "patch"),
    ("batch", "cronjobs", "delete"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
    # Leader election: the operator's own Lease (reviewpolicy.lease).
    ("coordination.k8s.io", "leases", "get"),
    ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "patch"),
}


def grants(rules: Iterable[dict[str, Any]]) -> set[Grant]:
    out = set()
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    out.add((group, resource, verb))
    return out


def chart_grants(r: Rendered) -> set[Grant]:
    rules: list[dict[str, Any]] = []
    for kind in ("Role", "ClusterRole"):
        for doc in r.of_kind(kind):
            rules.extend(doc["rules"])
    return grants(rules)


def test_operator_rbac_is_exactly_the_expected_calls() -> None:
    assert chart_grants(scenario("default")) == EXPECTED
    assert chart_grants(scenario("everything-enabled")) == EXPECTED


def test_namespaced_by_default_cluster_wide_on_request() -> None:
    default = scenario("default")
    (role,) = default.of_kind("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    (cluster_role,) = default.of_kind("ClusterRole")
    # Only the cluster-scoped CRD read is cluster-wide when the operator watches its own namespace.
    assert {g[0] for g in grants(cluster_role["rules"])} == {"apiextensions.k8s.io"}
    args = default.one("Deployment", "reviewops-operator")["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert args == ["operator", "--namespace", NAMESPACE]

    wide = scenario("everything-enabled")
    assert wide.of_kind("Role") == []
    args = wide.one("Deployment", "reviewops-operator")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["operator"]


def test_bindings_point_at_the_operator_service_account() -> None:
    r = render({})
    sa = r.one("Deployment", "reviewops-operator")["spec"]["template"]["spec"]["serviceAccountName"]
    r.one("ServiceAccount", sa)
    for kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")):
        for binding in r.of_kind(kind):
            assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]
            r.one(role_kind, binding["roleRef"]["name"])


def test_rbac_matches_the_operator_code() -> None:
    if importlib.util.find_spec("reviewpolicy.rbac") is None:
        pytest.skip("reviewpolicy.rbac is not on this branch yet (the operator branch adds RBAC_RULES)")
    from reviewpolicy.rbac import OWNER_REFERENCE_RULES, RBAC_RULES

    assert chart_grants(scenario("default")) == grants(RBAC_RULES) | grants(OWNER_REFERENCE_RULES)


def test_rbac_matches_the_owner_references_the_operator_sets() -> None:
    """blockOwnerDeletion needs `update` on reviewpolicies/finalizers (OwnerReferencesPermissionEnforcement,
    e.g. OpenShift); the operator sets none, so neither the code's rules nor the chart grant it."""
    from reviewpolicy.rbac import OWNER_REFERENCE_RULES, RBAC_RULES
    from reviewpolicy.replay import owner_reference

    ref = owner_reference({"metadata": {"name": "p", "uid": "u"}})
    blocks = bool(ref.get("blockOwnerDeletion"))
    needed = ("reviewops.dev", "reviewpolicies/finalizers", "update")
    assert (needed in grants(OWNER_REFERENCE_RULES)) is blocks
    assert (needed in chart_grants(scenario("default"))) is blocks
    assert needed not in grants(RBAC_RULES) or blocks


def test_no_binding_names_default_even_without_created_accounts() -> None:
    r = render({"serviceAccount": {"create": False, "name": "platform-reviewops"}})
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for binding in r.of_kind(kind):
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": "platform-reviewops", "namespace": NAMESPACE}
            ]
