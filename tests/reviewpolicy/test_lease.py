"""Leader election against the Kubernetes emulator (real HTTP, resourceVersion preconditions), with
clocks the test moves: one holder at a time, takeover only after a whole lease, a lost race is a 409."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reviewpolicy.kube import Kube
from reviewpolicy.lease import LeaderElector

from tests.reviewpolicy.emulator import Api, EmulatorThread


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Interleaved(Kube):
    """A client that lets another candidate act between its read and its write, once."""

    between: Callable[[], Any] | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        found = super().request(method, path, **kwargs)
        if method == "GET" and self.between is not None:
            hook, self.between = self.between, None
            hook()
        return found


@pytest.fixture
def kubes(cluster: EmulatorThread) -> Iterator[list[Kube]]:
    made: list[Kube] = []
    yield made
    for kube in made:
        kube.close()


def elector(kubes: list[Kube], name: str, ns: str, clock: Clock, cls: type[Kube] = Kube) -> LeaderElector:
    base = Kube.from_environment()
    kube = cls(base._client)
    kubes.append(kube)
    return LeaderElector(kube, ns, "reviewops-operator", name, lease_seconds=15, clock=clock)


def lease(api: Api, ns: str) -> dict[str, Any]:
    response = api.http.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/reviewops-operator")
    response.raise_for_status()
    return dict(response.json()["spec"])


def test_one_holder_and_a_takeover_only_after_a_whole_lease(api: Api, kubes: list[Kube]) -> None:
    ns = "lease-a"
    clock_a, clock_b = Clock(), Clock()
    a, b = elector(kubes, "a", ns, clock_a), elector(kubes, "b", ns, clock_b)
    assert a.try_acquire_or_renew() and a.is_leader()
    assert not b.try_acquire_or_renew() and not b.is_leader()
    assert lease(api, ns)["holderIdentity"] == "a"

    clock_a.now += 5
    assert a.try_acquire_or_renew()  # a renewal changes the record: b's wait starts again
    clock_b.now += 14
    assert not b.try_acquire_or_renew()
    clock_b.now += 14  # 14 s since b saw the renewal: not yet a whole lease
    assert not b.try_acquire_or_renew()

    clock_a.now += 11  # a failed to renew for longer than its renew deadline (10 s): it stops acting
    assert not a.is_leader()
    clock_b.now += 2  # 16 s without a change on b's clock: the lease has expired
    assert b.try_acquire_or_renew() and b.is_leader()
    spec = lease(api, ns)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()


def test_of_two_candidates_racing_for_an_expired_lease_one_wins(api: Api, kubes: list[Kube]) -> None:
    ns = "lease-b"
    clock = Clock()
    old = elector(kubes, "old", ns, clock)
    assert old.try_acquire_or_renew()
    a = elector(kubes, "a", ns, clock, Interleaved)
    b = elector(kubes, "b", ns, clock)
    assert not a.try_acquire_or_renew() and not b.try_acquire_or_renew()  # both observe "old"
    clock.now += 16
    assert isinstance(a.kube, Interleaved)
    results: list[bool] = []
    a.kube.between = lambda: results.append(b.try_acquire_or_renew())  # b writes between a's read and write
    results.append(a.try_acquire_or_renew())
    assert results == [True, False]  # b won; a's write carried a stale resourceVersion: 409
    assert lease(api, ns)["holderIdentity"] == "b" and not a.is_leader()


def test_release_hands_over_at_once(api: Api, kubes: list[Kube]) -> None:
    ns = "lease-c"
    clock = Clock()
    a, b = elector(kubes, "a", ns, clock), elector(kubes, "b", ns, clock)
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    a.release()
    assert not a.is_leader() and lease(api, ns).get("holderIdentity") is None
    assert b.try_acquire_or_renew()  # no waiting for the lease to run out
