"""Exactly the Kubernetes API access the operator uses, as Role rules (the Helm chart renders its Role
from this list; the kmock end-to-end test checks every request the operator made is covered).

kopf itself: discovery of CRDs (list/watch customresourcedefinitions), list/watch of ReviewPolicies,
patch of its status, patch of the object only to strip the finalizer older operator versions added (the
operator adds none: see handlers.py), and Events. Our own calls
(`kube.Kube`): the worker Deployment (get, patch of its scale subresource), replay Jobs (create, list)
and the replay CronJob (get, create, patch, delete). customresourcedefinitions are cluster-scoped,
so that one rule belongs in a ClusterRole; the rest fit a namespaced Role (with `--namespace`) or a
ClusterRole (all namespaces, the default).
"""

from __future__ import annotations

from typing import TypedDict


class PolicyRule(TypedDict):
    apiGroups: list[str]
    resources: list[str]
    verbs: list[str]


CLUSTER_RBAC_RULES: list[PolicyRule] = [
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": ["list", "watch"],
    },
]

NAMESPACED_RBAC_RULES: list[PolicyRule] = [
    {"apiGroups": ["reviewops.dev"], "resources": ["reviewpolicies"], "verbs": ["list", "watch", "patch"]},
    {"apiGroups": ["reviewops.dev"], "resources": ["reviewpolicies/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get", "create", "patch", "delete"]},
    # Leader election (reviewpolicy.lease): the operator's own Lease in its namespace.
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "patch"]},
]

RBAC_RULES: list[PolicyRule] = CLUSTER_RBAC_RULES + NAMESPACED_RBAC_RULES

# Rights that no request uses but admission checks: an ownerReference with `blockOwnerDeletion: true` needs
# `update` on the owner's `finalizers` subresource where OwnerReferencesPermissionEnforcement is on. The
# operator's ownerReferences (replay.owner_reference) do not block deletion, so none is needed; a test keeps
# the two in step.
OWNER_REFERENCE_RULES: list[PolicyRule] = []


def allows(rules: list[PolicyRule], group: str, resource: str, verb: str) -> bool:
    """Whether `rules` grant `verb` on `group`/`resource` (resource may be `plural/subresource`)."""
    return any(
        (group in rule["apiGroups"] or "*" in rule["apiGroups"])
        and (resource in rule["resources"] or "*" in rule["resources"])
        and (verb in rule["verbs"] or "*" in rule["verbs"])
        for rule in rules
    )
