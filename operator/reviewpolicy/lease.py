"""Leader election on a coordination.k8s.io Lease, so two operator replicas never both act.

kopf's own peering pauses every operator of equal priority (and needs its own CRD), so it is not leader
election; this is client-go's algorithm on the standard Lease object. The holder renews every
`lease/3` seconds and acts only while its last renewal is younger than `2/3 lease` (the renew deadline);
a candidate takes over only when the record has not changed for a whole `lease` on its own clock
(observed time, so clock skew between nodes does not matter). Every write is a merge patch carrying
the resourceVersion it read, so of two candidates racing for an expired Lease the API server accepts
one and answers the other 409. A stopping holder releases the Lease (empty holder) for a quick handover.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from reviewops.telemetry import metrics
from reviewpolicy.kube import MERGE_PATCH, Kube, KubeError

log = logging.getLogger(__name__)


def default_identity() -> str:
    """The pod's name (its hostname) and the process id: unique per running operator."""
    return f"{socket.gethostname()}_{os.getpid()}"


def _micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self, kube: Kube, namespace: str, name: str, identity: str, *, lease_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.lease_seconds = lease_seconds
        self.renew_seconds = lease_seconds / 3
        self.renew_deadline = lease_seconds * 2 / 3
        self._clock = clock
        self._leader_until = 0.0
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    def is_leader(self) -> bool:
        return self._clock() < self._leader_until

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this process holds the Lease afterwards."""
        started = self._clock()
        lease = self.kube.request("GET", f"{self.path}/{self.name}", ok_missing=True)
        now = _micro_time()
        duration = max(1, round(self.lease_seconds))
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                         "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
            }  # fmt: skip
            try:
                self.kube.request("POST", self.path, body=body)
            except KubeError as exc:
                if exc.status == 409:  # another candidate created it first
                    return self._lost()
                raise
            return self._won(started)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed, self._observed_at = record, started
        held_for = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder and holder != self.identity and started - self._observed_at < held_for:
            return self._lost()
        new_spec: dict[str, Any] = {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                                    "renewTime": now}  # fmt: skip
        if holder != self.identity:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        patch = {"metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]}, "spec": new_spec}
        try:
            self.kube.request("PATCH", f"{self.path}/{self.name}", body=patch, content_type=MERGE_PATCH)
        except KubeError as exc:
            if exc.status in (409, 404):  # someone else wrote (or deleted) it since our read
                return self._lost()
            raise
        return self._won(started)

    def _won(self, started: float) -> bool:
        if not self.is_leader():
            log.info("leader election: %s now holds lease %s/%s", self.identity, self.namespace, self.name)
        self._leader_until = started + self.renew_deadline
        metrics.OPERATOR_LEADER.set(1)
        return True

    def _lost(self) -> bool:
        if self._leader_until:
            log.warning("leader election: %s lost lease %s/%s", self.identity, self.namespace, self.name)
        self._leader_until = 0.0
        metrics.OPERATOR_LEADER.set(0)
        return False

    def release(self) -> None:
        """Give the Lease up at shutdown (empty holder), so a standby takes over at its next attempt."""
        if not self.is_leader():
            return
        self._leader_until = 0.0
        try:
            lease = self.kube.request("GET", f"{self.path}/{self.name}", ok_missing=True)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                patch = {"metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
                         "spec": {"holderIdentity": None, "leaseDurationSeconds": 1}}  # fmt: skip
                self.kube.request("PATCH", f"{self.path}/{self.name}", body=patch, content_type=MERGE_PATCH)
        except (KubeError, httpx.HTTPError) as exc:
            log.warning("leader election: could not release the lease: %s", exc)
        metrics.OPERATOR_LEADER.set(0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.try_acquire_or_renew()
            except (KubeError, httpx.HTTPError) as exc:
                log.warning("leader election: %s", exc)  # keeps acting until the renew deadline passes
            self._stop.wait(self.renew_seconds)

    def start(self) -> None:
        metrics.OPERATOR_LEADER.set(0)
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.release()
