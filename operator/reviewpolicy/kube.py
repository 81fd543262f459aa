"""The few Kubernetes API calls the operator makes itself (kopf makes the rest), over plain HTTP.

A small httpx client instead of the generated `kubernetes` client: we need exact control of patch content
types (merge-patch on `/scale`), and every call here is listed in `rbac.RBAC_RULES`. Credentials come from
the pod's service account (token re-read, so rotation works) or from the kubeconfig.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE_PATCH = "application/merge-patch+json"


def own_namespace() -> str:
    """The pod's namespace from its service account, or `default` outside a cluster."""
    try:
        return (SA_DIR / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Kube:
    """Namespaced reads and writes of Deployments, Jobs and CronJobs."""

    def __init__(self, client: httpx.Client, token_file: Path | None = None) -> None:
        self._client = client
        self._token_file = token_file
        self._token: tuple[float, str] | None = None

    @classmethod
    def from_environment(cls, timeout: float = 10.0) -> Kube:
        """In a pod: the service account. Elsewhere: the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if host and port and (SA_DIR / "token").is_file():
            context = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
            server = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
            return cls(httpx.Client(base_url=server, verify=context, timeout=timeout), SA_DIR / "token")
        from kubernetes import config as kube_config
        from kubernetes.client import Configuration

        cfg = Configuration()
        kube_config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=cfg)
        verify: ssl.SSLContext | bool = bool(cfg.verify_ssl)
        if cfg.verify_ssl and cfg.ssl_ca_cert:
            verify = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file and cfg.key_file:
            base = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
            base.load_cert_chain(cfg.cert_file, cfg.key_file)
            verify = base if cfg.verify_ssl else verify
        headers = {}
        auth = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
        if auth:
            headers["Authorization"] = auth if " " in auth else f"Bearer {auth}"
        return cls(httpx.Client(base_url=cfg.host, verify=verify, headers=headers, timeout=timeout))

    def close(self) -> None:
        self._client.close()

    def identify(self, identity: str) -> None:
        """Name this operator in the User-Agent of its own calls (audit logs tell replicas apart)."""
        self._client.headers["User-Agent"] = f"reviewops-operator/{identity}"

    def _headers(self) -> dict[str, str]:
        if self._token_file is None:
            return {}
        if self._token is None or time.monotonic() - self._token[0] > 60:
            self._token = (time.monotonic(), self._token_file.read_text().strip())
        return {"Authorization": f"Bearer {self._token[1]}"}

    def request(
        self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
        params: dict[str, str] | None = None, ok_missing: bool = False,
    ) -> dict[str, Any] | None:  # fmt: skip
        headers = {**self._headers(), "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body)
        response = self._client.request(method, path, content=content, headers=headers, params=params)
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.text
            except ValueError:
                message = response.text
            raise KubeError(response.status_code, f"{method} {path}: {message[:300]}")
        return response.json() if response.content else {}

    # --- Deployments (the worker) ---
    def get_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.request(
            "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", ok_missing=True
        )

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.request(
            "PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH,
        )  # fmt: skip

    # --- Jobs ---
    def create_job(self, job: dict[str, Any]) -> bool:
        """Create; False when it already exists (a retried handler made it before)."""
        namespace = job["metadata"]["namespace"]
        try:
            self.request("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", body=job)
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def list_jobs(self, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        found = self.request(
            "GET", f"/apis/batch/v1/namespaces/{namespace}/jobs", params={"labelSelector": label_selector}
        )
        items = (found or {}).get("items") or []
        # Filter again: a selector is a request, not a guarantee we rely on.
        return [
            job for job in items
            if all(((job.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
        ]  # fmt: skip

    # --- CronJobs ---
    def apply_cronjob(self, cronjob: dict[str, Any]) -> str:
        """Create or bring up to date; returns 'created', 'updated' or 'unchanged'."""
        namespace, name = cronjob["metadata"]["namespace"], cronjob["metadata"]["name"]
        path = f"/apis/batch/v1/namespaces/{namespace}/cronjobs"
        existing = self.request("GET", f"{path}/{name}", ok_missing=True)
        if existing is None:
            self.request("POST", path, body=cronjob)
            return "created"
        have = existing.get("metadata") or {}
        wanted = cronjob["metadata"]
        labels_ok = all((have.get("labels") or {}).get(k) == v for k, v in wanted["labels"].items())
        owners_ok = have.get("ownerReferences") == wanted.get("ownerReferences")
        if existing.get("spec") == cronjob["spec"] and labels_ok and owners_ok:
            return "unchanged"
        patch_meta: dict[str, Any] = {"labels": wanted["labels"]}
        if "ownerReferences" in wanted:
            patch_meta["ownerReferences"] = wanted["ownerReferences"]
        self.request(
            "PATCH", f"{path}/{name}", body={"metadata": patch_meta, "spec": cronjob["spec"]},
            content_type=MERGE_PATCH,
        )  # fmt: skip
        return "updated"

    def delete_cronjob(self, namespace: str, name: str) -> bool:
        found = self.request(
            "DELETE", f"/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
            params={"propagationPolicy": "Background"}, ok_missing=True,
        )  # fmt: skip
        return found is not None
