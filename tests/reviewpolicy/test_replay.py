"""Replay Job and CronJob manifests, request bookkeeping and the result contract."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from reviewpolicy import replay


def secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": "reviewops-secrets", "key": key}}}


BODY = {"metadata": {"name": "default", "namespace": "reviewops", "uid": "u-1"}}
WORKER: dict[str, Any] = {
    "metadata": {"name": "reviewops-worker"},
    "spec": {
        "template": {
            "spec": {
                "serviceAccountName": "reviewops",
                "imagePullSecrets": [{"name": "ghcr"}],
                "volumes": [
                    {"name": "config", "configMap": {"name": "reviewops"}},
                    {"name": "github-app-key", "secret": {"secretName": "reviewops-secrets"}},
                ],
                "containers": [
                    {
                        "name": "worker",
                        "image": "ghcr.io/reviewops/reviewops:2.0.0",
                        "imagePullPolicy": "IfNotPresent",
                        "env": [
                            {"name": "REVIEWOPS_LOG_LEVEL", "value": "DEBUG"},
                            secret_env("REVIEWOPS_DATABASE_URL", "database-url"),
                            secret_env("REVIEWOPS_REDIS_URL", "redis-url"),
                            secret_env("REVIEWOPS_LLM_API_KEY", "llm-api-key"),
                            {"name": "REVIEWOPS_GITHUB_PRIVATE_KEY_FILE", "value": "/keys/private-key.pem"},
                        ],
                        "volumeMounts": [{"name": "github-app-key", "mountPath": "/keys"}],
                        "envFrom": [
                            {"secretRef": {"name": "reviewops"}},
                            {"configMapRef": {"name": "reviewops"}},
                        ],
                    }
                ],
            }
        }
    },
}
SPEC = replay.ReplaySpec.from_spec(
    {"deadLetters": {"replay": {"errorTypes": ["transient"], "olderThan": "1h", "maxMessages": 20,
                                "ratePerSecond": 3, "schedule": "@hourly"}}}
)  # fmt: skip


def test_command_line() -> None:
    spec = replay.ReplaySpec(
        error_types=("transient",), older_than="10m", max_messages=500, rate_per_second=50
    )
    assert replay.replay_command(spec, "job-1") == [
        "reviewops", "dlq", "replay", "--error-type", "transient",
        "--older-than", "10m", "--limit", "500", "--rate", "50/s", "--result-key", "job-1",
    ]  # fmt: skip


def test_every_error_type_means_no_filter() -> None:
    spec = replay.ReplaySpec(error_types=("permanent", "transient"))
    assert "--error-type" not in replay.replay_command(spec, "k")


def test_job_copies_the_worker_and_is_owned_by_the_policy() -> None:
    job = replay.replay_job(BODY, SPEC, WORKER, "2026-01-01T00:00:00Z")
    name = job["metadata"]["name"]
    assert name == replay.job_name_for_request("default", "2026-01-01T00:00:00Z")
    assert name.startswith("default-replay-") and len(name) <= 63
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "reviewops.dev/v1alpha1", "kind": "ReviewPolicy", "name": "default", "uid": "u-1",
         "controller": True}
    ]  # fmt: skip
    assert job["metadata"]["annotations"] == {replay.REPLAY_ANNOTATION: "2026-01-01T00:00:00Z"}
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/reviewops/reviewops:2.0.0"
    # Only what `reviewops dlq replay` reads: no LLM key, no GitHub App key, no Secret imported wholesale.
    assert [e["name"] for e in container["env"]] == [
        "REVIEWOPS_LOG_LEVEL", "REVIEWOPS_DATABASE_URL", "REVIEWOPS_REDIS_URL",
    ]  # fmt: skip
    assert container["envFrom"] == [{"configMapRef": {"name": "reviewops"}}]
    assert pod["enableServiceLinks"] is False and pod["automountServiceAccountToken"] is False
    assert container["command"][-2:] == ["--result-key", name]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "reviewops"
    assert pod["imagePullSecrets"] == [{"name": "ghcr"}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["volumeMounts"] == [{"name": "replay-tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "replay-tmp", "emptyDir": {}}]
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600 and job["spec"]["backoffLimit"] == 0
    kubernetes_validate.validate(job, "1.31.0", strict=True)


def test_same_request_same_job_name_new_request_new_name() -> None:
    a = replay.job_name_for_request("p", "2026-01-01T00:00:00Z")
    assert a == replay.job_name_for_request("p", "2026-01-01T00:00:00Z")
    assert a != replay.job_name_for_request("p", "2026-01-01T00:00:01Z")
    assert len(replay.job_name_for_request("x" * 253, "t")) <= 63


def test_cronjob_learns_its_job_name_from_the_downward_api() -> None:
    cronjob = replay.replay_cronjob(BODY, SPEC, WORKER)
    assert cronjob["spec"]["schedule"] == "@hourly" and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-2:] == ["--result-key", "$(REVIEWOPS_REPLAY_JOB_NAME)"]
    assert container["env"][-1]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/job-name']"
    )
    assert cronjob["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert len(cronjob["metadata"]["name"]) <= 52
    kubernetes_validate.validate(cronjob, "1.31.0", strict=True)


def test_a_pod_security_context_cannot_turn_off_non_root() -> None:
    worker = {"spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": False, "fsGroup": 5},
                                             "containers": [{"image": "i"}]}}}}  # fmt: skip
    pod = replay.pod_template(worker, ["true"], {}, [])["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == 5


def test_worker_without_image_is_an_error() -> None:
    with pytest.raises(ValueError, match="no container image"):
        replay.replay_job(BODY, SPEC, {"metadata": {"name": "w"}, "spec": {}}, "t")


def test_pending_requests_are_handled_once() -> None:
    annotations = {replay.REPLAY_ANNOTATION: "t1"}
    assert replay.pending_request(annotations, []) == "t1"
    handled = replay.remember([], "t1")
    assert replay.pending_request(annotations, handled) is None
    assert replay.pending_request({replay.REPLAY_ANNOTATION: "t2"}, handled) == "t2"
    assert replay.pending_request({}, handled) is None
    many: list[str] = []
    for i in range(50):
        many = replay.remember(many, f"t{i}")
    assert len(many) == replay.HANDLED_REQUESTS_KEPT and many[-1] == "t49"


def test_result_parsing() -> None:
    raw = '{"replayed": 3, "skipped": 1, "failed": 0, "started_at": "a", "finished_at": "b"}'
    assert replay.parse_result(raw) == {
        "replayed": 3,
        "skipped": 1,
        "failed": 0,
        "startTime": "a",
        "finishTime": "b",
    }
    assert replay.parse_result(None) is None and replay.parse_result(b"not json") is None
    assert replay.parse_result("[1]") is None
    assert replay.parse_result('{"replayed": "x"}') == {"replayed": 0, "skipped": 0, "failed": 0}


def test_last_replay_states() -> None:
    job = replay.replay_job(BODY, SPEC, WORKER, "t") | {"status": {"startTime": "s"}}
    assert replay.last_replay(job, None)["state"] == "Running"
    failed = job | {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert replay.last_replay(failed, None)["state"] == "Failed"
    partial = replay.last_replay(job, {"replayed": 1, "skipped": 0, "failed": 0})
    assert partial["state"] == "Running" and partial["replayed"] == 1  # no finish time yet
    done = replay.last_replay(job, {"replayed": 1, "skipped": 0, "failed": 0, "finishTime": "f"})
    assert done["state"] == "Succeeded" and done["trigger"] == "on-demand" and done["requestedAt"] == "t"


def test_bad_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="olderThan"):
        replay.ReplaySpec.from_spec({"deadLetters": {"replay": {"olderThan": "ten minutes"}}})
