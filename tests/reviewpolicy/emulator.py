"""kmock's Kubernetes emulator, made real enough for kopf, served from its own thread.

The fixes (see the shared notes): bundled resources plus our CRD; created and patched objects get an
increasing resourceVersion, a uid, a creationTimestamp, the namespace from the URL and a generation that
grows on spec changes; a failed JSON-patch `test` answers 422 (as the API server does), not 500.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import kmock
from kmock._internal import enums, rendering

RP = "reviewops.dev/v1alpha1/reviewpolicies"
TEST_AGENT = "reviewops-tests"  # requests made by the tests (kubectl's part), not by the operator
_versions = itertools.count(1000)


class Emulator(kmock.KubernetesEmulator):
    async def _handle(self, request: rendering.Request) -> Any:
        if request.resource is not None and request.action == enums.action.UPDATE:
            self._precondition(request)
        if request.resource is not None and request.action in (enums.action.CREATE, enums.action.UPDATE):
            self._stamp(request)
        try:
            return await super()._handle(request)
        except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPatchConflict) as exc:
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from exc

    def _precondition(self, request: rendering.Request) -> None:
        """A patch that names a resourceVersion applies only to that version (the API server's optimistic
        concurrency; leader election relies on it): 409 Conflict otherwise."""
        data = request.data
        wanted = (data.get("metadata") or {}).get("resourceVersion") if isinstance(data, dict) else None
        key = (request.resource, request.namespace, request.name)
        if wanted is None or key not in self.objects or self.objects[key].deleted:
            return
        current = (self.objects[key].raw.get("metadata") or {}).get("resourceVersion")
        if str(current) != str(wanted):
            raise kmock.KubernetesError(status=409, reason="Conflict", message="the object has been modified")

    def _stamp(self, request: rendering.Request) -> None:
        version = str(next(_versions))
        data = request.data
        if request.action == enums.action.CREATE and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault(
                "creationTimestamp", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            )
            if request.namespace:
                meta.setdefault("namespace", request.namespace)
            meta.setdefault("generation", 1)
            meta["resourceVersion"] = version
        elif isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            meta["resourceVersion"] = version
            if "spec" in data and request.subresource is None:
                key = (request.resource, request.namespace, request.name)
                if key in self.objects and not self.objects[key].deleted:
                    old = dict(self.objects[key].raw.get("metadata") or {})
                    meta["generation"] = int(old.get("generation") or 1) + 1
        elif isinstance(data, list):
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})


class EmulatorThread:
    """The emulator's event loop in a daemon thread; the test talks to it over HTTP."""

    def __init__(self, *, declare_crd: bool = True) -> None:
        self.declare_crd = declare_crd  # False: the ReviewPolicy kind is unknown until `declare_crd()`
        self.ready = threading.Event()
        self.url = ""
        self.emulator: Emulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator() as emulator, kmock.Server(emulator) as server:
            emulator.resources.load_bundled()
            emulator.resources["coordination.k8s.io/v1/leases"] = kmock.ResourceInfo(
                kind="Lease", singular="lease", namespaced=True,
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            )  # fmt: skip
            self.emulator = emulator
            if self.declare_crd:
                self.declare_reviewpolicies()
            self.url = str(server.url).rstrip("/")
            self.ready.set()
            await self._stop.wait()

    def declare_reviewpolicies(self) -> None:
        """What an established CRD does to discovery: the kind becomes known to clients."""
        assert self.emulator is not None
        self.emulator.resources[RP] = kmock.ResourceInfo(
            kind="ReviewPolicy", singular="reviewpolicy", namespaced=True, shortnames={"rp"},
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            subresources={"status"},
        )  # fmt: skip

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("the Kubernetes emulator did not start")

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def write_kubeconfig(self, path: Path) -> None:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
            f"clusters:\n- name: kmock\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: kmock\n  user:\n    token: test-token\n"
            "contexts:\n- name: kmock\n  context:\n    cluster: kmock\n    user: kmock\n"
        )

    @property
    def requests(self) -> list[rendering.Request]:
        assert self.emulator is not None
        return list(self.emulator)  # a kmock handler iterates over the requests it served

    def errors(self) -> list[Exception]:
        assert self.emulator is not None
        return list(self.emulator.errors)


class Api:
    """A tiny test-side client for the emulator (what `kubectl` would do)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10, headers={"User-Agent": TEST_AGENT})

    @staticmethod
    def path(kind: str, namespace: str, name: str | None = None) -> str:
        base = {
            "rp": "/apis/reviewops.dev/v1alpha1",
            "deployments": "/apis/apps/v1",
            "jobs": "/apis/batch/v1",
            "cronjobs": "/apis/batch/v1",
            "events": "/api/v1",
        }[kind]
        plural = "reviewpolicies" if kind == "rp" else kind
        return f"{base}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.path(kind, namespace), json=body)
        response.raise_for_status()
        return dict(response.json())

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        response = self.http.get(self.path(kind, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def list(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        response = self.http.get(self.path(kind, namespace))
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return list(response.json().get("items") or [])

    def patch(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.patch(
            self.path(kind, namespace, name),
            json=body,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()
        return dict(response.json())

    def delete(self, kind: str, namespace: str, name: str) -> None:
        response = self.http.delete(self.path(kind, namespace, name))
        if response.status_code != 404:
            response.raise_for_status()

    def collect_garbage(self, namespace: str, kinds: tuple[str, ...] = ("jobs", "cronjobs")) -> int:
        """What the garbage collector does (kmock has none): delete dependents whose owner is gone."""
        policies = {p["metadata"]["uid"] for p in self.list("rp", namespace)}
        deleted = 0
        for kind in kinds:
            for obj in self.list(kind, namespace):
                owners = obj["metadata"].get("ownerReferences") or []
                if owners and not any(o["uid"] in policies for o in owners):
                    self.delete(kind, namespace, obj["metadata"]["name"])
                    deleted += 1
        return deleted


def iter_events(api: Api, namespace: str) -> Iterator[dict[str, Any]]:
    yield from api.list("events", namespace)
