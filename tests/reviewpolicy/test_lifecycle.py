"""The chart's lifecycle, played in Helm's order against the emulator, with the real operator running and stopped.

`helm install` on an empty cluster is one command; `helm upgrade` patches the default policy in place (same
object, its status survives, its replay Jobs keep running); `helm rollback` restores its spec; `helm
uninstall` deletes it at once, operator or not, and garbage collection takes its Jobs and CronJob: nothing is
left, nothing waits on a finalizer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from reviewpolicy.handlers import FINALIZER
from reviewpolicy.replay import REPLAY_ANNOTATION

from tests.charts.chart import chart
from tests.reviewpolicy.conftest import KUBECONFIG
from tests.reviewpolicy.emulator import TEST_AGENT, Api, EmulatorThread
from tests.reviewpolicy.helm_player import HelmError, HelmPlayer
from tests.reviewpolicy.test_operator_e2e import cond, policy, worker_deployment
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

RELEASE = "reviewops"
POLICY = "reviewops"  # the release's full name
VALUES: dict[str, Any] = {
    "secrets": {
        "databaseUrl": "postgresql+psycopg://reviewops:pw@db:5432/reviewops",
        "redisUrl": "redis://redis:6379/0",
        "webhookSecrets": ["s"],
    },
    "reviewPolicy": {
        "workers": {"pollSeconds": 1, "maxReplicas": 20},
        "deadLetters": {"replay": {"schedule": "@hourly"}},
    },
}


def with_max(values: dict[str, Any], n: int) -> dict[str, Any]:
    out = {**values, "reviewPolicy": {**values["reviewPolicy"]}}
    out["reviewPolicy"]["workers"] = {**values["reviewPolicy"]["workers"], "maxReplicas": n}
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmulatorThread]:
    """An empty cluster: the ReviewPolicy kind exists only once the chart's CRD is installed."""
    emulator = EmulatorThread(declare_crd=False)
    emulator.start()
    emulator.write_kubeconfig(KUBECONFIG)
    yield emulator
    emulator.close()


@pytest.fixture
def helm(cluster: EmulatorThread, request: pytest.FixtureRequest) -> Iterator[HelmPlayer]:
    player = HelmPlayer(
        cluster, chart(), RELEASE, request.node.name.removeprefix("test_")[:40].replace("_", "-")
    )
    yield player
    player.close()


@contextmanager
def running_operator() -> Iterator[None]:
    """The operator of the release, as its pod would run it (`reviewops operator`: kopf, this namespace's
    policies and others; -A because the emulator cannot list namespaces)."""
    from kopf.testing import KopfRunner

    from reviewops.settings import get_settings

    get_settings.cache_clear()
    runner = KopfRunner(["run", "--standalone", "-A", "-m", "reviewpolicy"], timeout=30)
    with runner:
        yield
    assert runner.exception is None, runner.output


def leftovers(cluster: EmulatorThread, ns: str) -> list[str]:
    """Every object still in the namespace (Events aside), and anything stuck terminating anywhere."""
    assert cluster.emulator is not None
    out = []
    for (resource, namespace, name), obj in list(cluster.emulator.objects.items()):
        if obj.deleted:
            continue
        meta = obj.get("metadata", {})
        if meta.get("deletionTimestamp"):
            out.append(f"terminating {resource.plural}/{name}")
        elif namespace == ns and resource.plural != "events":
            out.append(f"{resource.plural}/{name}")
    return sorted(out)


def cluster_scoped(cluster: EmulatorThread, release: str) -> list[str]:
    """Cluster-wide objects the release made (its ClusterRole/-Binding), the CRD aside."""
    assert cluster.emulator is not None
    return sorted(
        f"{key[0].plural}/{key[2]}"
        for key, obj in list(cluster.emulator.objects.items())
        if not obj.deleted and key[1] is None and key[0].plural != "customresourcedefinitions"
        and release in str(key[2])
    )  # fmt: skip


def operator_calls(cluster: EmulatorThread, ns: str) -> int:
    return sum(
        1
        for r in cluster.requests
        if r.headers.get("User-Agent") != TEST_AGENT and f"/namespaces/{ns}/" in r.url.path
    )


def two_passes_elsewhere(cluster: EmulatorThread) -> None:
    """Wait for the operator's progress on the other policy (each pass reads its Deployment and patches status)."""
    seen = operator_calls(cluster, "other")
    wait_until(lambda: operator_calls(cluster, "other") >= seen + 4, what="two more passes elsewhere")


def test_install_needs_nothing_but_helm_install(helm: HelmPlayer, api: Api) -> None:
    """One command on an empty cluster: the CRD from crds/ first, then the policy as a release object."""
    helm.install(VALUES)
    live = api.get("rp", helm.namespace, POLICY)
    assert live is not None
    assert "helm.sh/hook" not in (live["metadata"].get("annotations") or {}), "a release object, not a hook"
    assert not live["metadata"].get("finalizers")
    assert helm.log.index("create CustomResourceDefinition/reviewpolicies.reviewops.dev") == 0
    created = [line for line in helm.log if line.startswith("create ")]
    assert created[-1] == f"create ReviewPolicy/{POLICY}", "unknown kinds go last, after the operator"
    helm.uninstall()
    assert leftovers(helm.cluster, helm.namespace) == []


def test_a_custom_resource_without_its_crd_fails_the_whole_install() -> None:
    """Why the CRD cannot be a template: Helm maps every kind before creating anything."""
    fresh = EmulatorThread(declare_crd=False)
    fresh.start()
    try:
        player = HelmPlayer(fresh, chart(), RELEASE, "nocrd")
        revision = player._render(VALUES, 1, install=True)
        with pytest.raises(HelmError, match='mapping not found for kind "ReviewPolicy"'):
            player._check_kinds(revision)
        player.close()
    finally:
        fresh.close()


def test_lifecycle_with_the_operator_running(
    helm: HelmPlayer, api: Api, cluster: EmulatorThread, operator_env: dict[str, str]
) -> None:
    ns = helm.namespace
    helm.install(VALUES)
    with running_operator():
        st = wait_until(
            lambda: (
                cond(s := (api.get("rp", ns, POLICY) or {}).get("status") or {}, "Ready").get("reason") and s
            ),
            what="the operator's first pass",
        )
        assert st["observedGeneration"] == 1
        wait_until(lambda: api.list("cronjobs", ns), what="the scheduled replay CronJob")
        api.patch(
            "rp", ns, POLICY, {"metadata": {"annotations": {REPLAY_ANNOTATION: "2026-12-01T00:00:00Z"}}}
        )
        wait_until(lambda: api.list("jobs", ns), what="an on-demand replay Job")
        before = wait_until(
            lambda: (
                (p := api.get("rp", ns, POLICY))
                and (p.get("status") or {}).get("replay", {}).get("handledRequests")
                and p
            ),
            what="the request in the status",
        )
        uid = before["metadata"]["uid"]
        job = api.list("jobs", ns)[0]["metadata"]["name"]

        helm.upgrade(with_max(VALUES, 7))
        after = api.get("rp", ns, POLICY)
        assert after is not None and after["metadata"]["uid"] == uid, "patched in place, never re-created"
        assert after["spec"]["workers"]["maxReplicas"] == 7
        assert after["status"]["replay"]["handledRequests"] == ["2026-12-01T00:00:00Z"], "status survives"
        assert after["status"]["conditions"], "conditions survive"
        assert api.get("jobs", ns, job) is not None, "a running replay Job is not killed by an upgrade"
        wait_until(
            lambda: (api.get("rp", ns, POLICY) or {}).get("status", {}).get("observedGeneration") == 2,
            what="the operator sees the upgrade",
        )

        api.patch("rp", ns, POLICY, {"spec": {"workers": {"maxReplicas": 3}}})  # a live `kubectl edit`
        helm.rollback(1)
        rolled = api.get("rp", ns, POLICY)
        assert rolled is not None and rolled["metadata"]["uid"] == uid
        assert rolled["spec"]["workers"]["maxReplicas"] == 20, "rollback restores the spec"
        assert rolled["status"]["replay"]["handledRequests"] == ["2026-12-01T00:00:00Z"]

        # A second policy elsewhere, so the operator visibly keeps working after the uninstall.
        api.create("deployments", "other", worker_deployment())
        api.create("rp", "other", policy("other"))
        helm.uninstall()
        assert api.get("rp", ns, POLICY) is None, "deleted at once: no finalizer to wait on"
        # A pass already running when the policy went may still finish; after that, nothing more for it.
        two_passes_elsewhere(cluster)
        calls_after_uninstall = operator_calls(cluster, ns)
        two_passes_elsewhere(cluster)
        assert operator_calls(cluster, ns) == calls_after_uninstall, "the deleted policy's timer stopped"
        api.delete("rp", "other", "other")

    assert api.collect_garbage(ns) == 2  # the replay Job and CronJob, by their ownerReferences
    assert leftovers(cluster, ns) == []
    assert cluster_scoped(cluster, f"{RELEASE}-operator-{ns}") == []


def test_lifecycle_with_the_operator_stopped(
    helm: HelmPlayer, api: Api, cluster: EmulatorThread, operator_env: dict[str, str]
) -> None:
    """The operator ran once (a CronJob exists), then is gone: upgrades, rollbacks and uninstall go on."""
    ns = helm.namespace
    helm.install(VALUES)
    with running_operator():
        wait_until(lambda: api.list("cronjobs", ns), what="the scheduled replay CronJob")
        wait_until(
            lambda: (api.get("rp", ns, POLICY) or {}).get("status", {}).get("observedGeneration") == 1,
            what="the operator's status",
        )
    uid = (api.get("rp", ns, POLICY) or {})["metadata"]["uid"]

    # An upgrade that switches the operator off deletes its Deployment and RBAC, not the policy.
    helm.upgrade(with_max(VALUES, 5) | {"operator": {"enabled": False}})
    live = api.get("rp", ns, POLICY)
    assert live is not None and live["metadata"]["uid"] == uid and live["status"]["observedGeneration"] == 1
    assert api.get("deployments", ns, "reviewops-operator") is None
    helm.rollback(1)
    assert (api.get("rp", ns, POLICY) or {})["spec"]["workers"]["maxReplicas"] == 20

    helm.uninstall()
    assert api.get("rp", ns, POLICY) is None, "nothing waits on the stopped operator"
    assert api.collect_garbage(ns) == 1  # the CronJob
    assert leftovers(cluster, ns) == []


def test_install_and_uninstall_without_any_operator(
    helm: HelmPlayer, api: Api, cluster: EmulatorThread
) -> None:
    helm.install(VALUES | {"operator": {"enabled": False}})
    assert api.get("rp", helm.namespace, POLICY) is not None
    helm.uninstall()
    assert leftovers(cluster, helm.namespace) == []


def test_upgrade_from_the_hook_era_adopts_the_policy_and_drops_its_finalizer(
    helm: HelmPlayer, api: Api, cluster: EmulatorThread, operator_env: dict[str, str]
) -> None:
    """Before issue 17 the default policy was a post-install hook carrying the operator's finalizer. The
    runbook's Upgrade section (label + annotate, then upgrade) hands it to the release; the new operator
    releases the finalizer, and uninstall then leaves nothing."""
    ns = helm.namespace
    helm.install(VALUES | {"reviewPolicy": {"enabled": False}})
    old = next(d for d in helm._render(VALUES, 1, install=True).manifests if d["kind"] == "ReviewPolicy")
    old["metadata"]["annotations"] = {"helm.sh/hook": "post-install,post-upgrade", "helm.sh/hook-weight": "0"}
    old["metadata"]["finalizers"] = [FINALIZER]
    api.create("rp", ns, old)

    with pytest.raises(HelmError, match="invalid ownership metadata"):
        helm.upgrade(VALUES)
    # The runbook's three kubectl commands.
    api.patch("rp", ns, POLICY, {
        "metadata": {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": ns,
                "helm.sh/hook": None, "helm.sh/hook-weight": None,
            },
        }
    })  # fmt: skip
    helm.upgrade(VALUES)
    with running_operator():
        wait_until(
            lambda: not (api.get("rp", ns, POLICY) or {})["metadata"].get("finalizers"),
            what="finalizer released",
        )
    helm.uninstall()
    assert api.get("rp", ns, POLICY) is None
    api.collect_garbage(ns)
    assert leftovers(cluster, ns) == []
