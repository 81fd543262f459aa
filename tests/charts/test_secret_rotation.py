"""Secret rotation in the chart: the checksum rolls the pods for every secret read from an environment
variable (the admin token included); with secrets.mountAsFiles the rotatable secrets are files instead,
re-read by the processes, and do not roll anything."""

from __future__ import annotations

from typing import Any

from tests.charts.chart import Rendered, render

BASE: dict[str, Any] = {
    "secrets": {
        "databaseUrl": "postgresql://u:p@db/reviewops", "redisUrl": "redis://redis:6379/0",
        "webhookSecrets": ["hook-1"], "adminToken": "admin-1", "llmApiKey": "sk-1",
    }
}  # fmt: skip


def with_secrets(**changes: Any) -> dict[str, Any]:
    return {"secrets": {**BASE["secrets"], **changes}}


def checksums(r: Rendered) -> dict[str, str]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"]
        for d in r.of_kind("Deployment")
    }


def test_every_secret_value_rolls_the_pods_when_read_from_the_environment() -> None:
    base = checksums(render(BASE))
    for change in ({"adminToken": "admin-2"}, {"webhookSecrets": ["hook-2", "hook-1"]}, {"llmApiKey": "sk-2"},
                   {"redisUrl": "redis://other:6379/0"}):  # fmt: skip
        rolled = checksums(render(with_secrets(**change)))
        assert all(rolled[name] != base[name] for name in base), change


def test_mounted_files_rotate_without_rolling_and_replace_the_variables() -> None:
    files = {"secrets": {**BASE["secrets"], "mountAsFiles": True}}
    r = render(files)
    base = checksums(r)
    for change in ({"adminToken": "admin-2"}, {"webhookSecrets": ["hook-2"]}, {"llmApiKey": "sk-2"}):
        assert checksums(render({"secrets": {**files["secrets"], **change}})) == base, change
    assert checksums(render({"secrets": {**files["secrets"], "redisUrl": "redis://x:1/0"}})) != base

    wanted = {
        "reviewops-api": {
            "REVIEWOPS_WEBHOOK_SECRETS_FILE": "webhook-secrets", "REVIEWOPS_ADMIN_TOKEN_FILE": "admin-token",
        },
        "reviewops-worker": {"REVIEWOPS_LLM_API_KEY_FILE": "llm-api-key"},
    }  # fmt: skip
    for name, variables in wanted.items():
        pod = r.one("Deployment", name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        secret_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in env.values() if "valueFrom" in e}
        assert secret_keys <= {"database-url", "redis-url"}, name  # nothing rotatable left in variables
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "reviewops-secrets"]
        assert mount["readOnly"] is True and "subPath" not in mount  # subPath mounts are never updated
        (volume,) = [v for v in pod["volumes"] if v["name"] == "reviewops-secrets"]
        assert {i["key"] for i in volume["secret"]["items"]} == set(variables.values())
        for variable, key in variables.items():
            assert env[variable]["value"] == f"{mount['mountPath']}/{key}"
    operator = r.one("Deployment", "reviewops-operator")["spec"]["template"]["spec"]
    assert all(v["name"] != "reviewops-secrets" for v in operator["volumes"])
