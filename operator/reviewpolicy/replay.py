"""DLQ replay: the Job and CronJob manifests, the on-demand request bookkeeping, and the result contract.

The Job runs `reviewops dlq replay ... --result-key <job-name>`; that command writes its result JSON
({"replayed", "skipped", "failed", "started_at", "finished_at"}) to `reviewops:replay-results:<job-name>`,
which the operator reads back into `status.lastReplay`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from reviewops.queue.names import REPLAY_RESULT_KEY_PREFIX

REPLAY_ANNOTATION = "reviewops.dev/replay-requested-at"
POLICY_LABEL = "reviewops.dev/policy"
TRIGGER_LABEL = "reviewops.dev/replay-trigger"
RESULT_KEY_PREFIX = REPLAY_RESULT_KEY_PREFIX
JOB_NAME_ENV = "REVIEWOPS_REPLAY_JOB_NAME"
HANDLED_REQUESTS_KEPT = 20
API_VERSION = "reviewops.dev/v1alpha1"
KIND = "ReviewPolicy"
ERROR_TYPES = ("transient", "permanent")  # the DLQ's kinds of dead letter (the CRD's enum)
NON_ROOT_UID = 10001  # the image's `reviewops` user (see Dockerfile)
TMP = "/tmp"  # noqa: S108  (an emptyDir in the replay pod, not the operator's /tmp)
# What `reviewops dlq replay` reads: the dead-letter table and the broker. Nothing else of the worker's
# environment (LLM key, GitHub App key, webhook secrets) is copied into a replay pod.
REPLAY_ENV = frozenset({"REVIEWOPS_DATABASE_URL", "REVIEWOPS_REDIS_URL", "REVIEWOPS_LOG_LEVEL"})
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d|w)$")


def result_key(job_name: str) -> str:
    return RESULT_KEY_PREFIX + job_name


@dataclass(frozen=True)
class ReplaySpec:
    error_types: tuple[str, ...] = ("transient",)
    older_than: str = "10m"
    max_messages: int = 500
    rate_per_second: int = 50
    schedule: str | None = None
    ttl_seconds_after_finished: int = 3600
    active_deadline_seconds: int = 3600

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ReplaySpec:
        raw = ((spec.get("deadLetters") or {}).get("replay")) or {}
        older_than = str(raw.get("olderThan", "10m"))
        if not _DURATION.match(older_than):
            raise ValueError(
                f"spec.deadLetters.replay.olderThan: {older_than!r} is not like 30s, 10m, 2h, 1d, 1w"
            )
        return cls(
            error_types=tuple(str(e) for e in raw.get("errorTypes", ["transient"])),
            older_than=older_than,
            max_messages=int(raw.get("maxMessages", 500)),
            rate_per_second=int(raw.get("ratePerSecond", 50)),
            schedule=raw.get("schedule") or None,
            ttl_seconds_after_finished=int(raw.get("ttlSecondsAfterFinished", 3600)),
            active_deadline_seconds=int(raw.get("activeDeadlineSeconds", 3600)),
        )


def replay_command(replay: ReplaySpec, result_key_name: str) -> list[str]:
    """The exact `reviewops dlq replay` command line.

    `--error-type` filters by one type; every known type at once means no filter at all (so the command
    stays right whether the DLQ CLI takes the option once or repeated).
    """
    command = ["reviewops", "dlq", "replay"]
    if not set(ERROR_TYPES) <= set(replay.error_types):
        for error_type in dict.fromkeys(replay.error_types):
            command += ["--error-type", error_type]
    command += [
        "--older-than", replay.older_than,
        "--limit", str(replay.max_messages),
        "--rate", f"{replay.rate_per_second}/s",
        "--result-key", result_key_name,
    ]  # fmt: skip
    return command


def job_name_for_request(policy: str, requested_at: str) -> str:
    """Deterministic, so a retried handler finds the Job it already made instead of making another."""
    digest = hashlib.sha256(requested_at.encode()).hexdigest()[:10]
    return f"{policy[:40].rstrip('-.')}-replay-{digest}"


def cronjob_name(policy: str) -> str:
    # CronJob names are capped at 52 characters (the controller appends an 11-character suffix).
    return f"{policy[:40].rstrip('-.')}-replay"


def owner_reference(body: dict[str, Any]) -> dict[str, Any]:
    """The policy as controller of its Jobs and CronJob, so garbage collection deletes them with it.

    No `blockOwnerDeletion`: it only matters for foreground deletion, and setting it needs `update` on
    `reviewpolicies/finalizers` wherever OwnerReferencesPermissionEnforcement is on (OpenShift), a right the
    operator would otherwise never use (see rbac.py).
    """
    meta = body["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }


def _labels(policy: str, trigger: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "reviewops",
        "app.kubernetes.io/component": "dlq-replay",
        "app.kubernetes.io/managed-by": "reviewops-operator",
        POLICY_LABEL: policy,
        TRIGGER_LABEL: trigger,
    }


def pod_template(
    worker_deployment: dict[str, Any], command: list[str], labels: dict[str, str], extra_env: list[Any]
) -> dict[str, Any]:
    """A pod like the worker's (image, service account, scheduling), non-root, that runs `command` once.

    Least privilege: of the worker's environment only the database and Redis settings (and the log level)
    are copied, and of its `envFrom` only ConfigMaps (no Secret is imported wholesale); no volume but a
    writable /tmp; no service links.
    """
    pod_spec = ((worker_deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    if not containers or not containers[0].get("image"):
        name = (worker_deployment.get("metadata") or {}).get("name", "?")
        raise ValueError(f"worker Deployment {name} has no container image to copy")
    worker = containers[0]
    container: dict[str, Any] = {
        "name": "replay",
        "image": worker["image"],
        "command": command,
        "env": [*(e for e in worker.get("env") or [] if e.get("name") in REPLAY_ENV), *extra_env],
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": worker.get("resources")
        or {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    config_maps = [source for source in worker.get("envFrom") or [] if "configMapRef" in source]
    if config_maps:
        container["envFrom"] = config_maps
    if worker.get("imagePullPolicy"):
        container["imagePullPolicy"] = worker["imagePullPolicy"]
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "runAsGroup": NON_ROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
            **(pod_spec.get("securityContext") or {}),
        },
        "containers": [container],
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
    }
    spec["securityContext"]["runAsNonRoot"] = True  # never let a copied context turn it off
    for key in ("serviceAccountName", "imagePullSecrets", "nodeSelector", "tolerations"):
        if pod_spec.get(key):
            spec[key] = pod_spec[key]
    # The root filesystem is read-only; HOME is /tmp in the image.
    container["volumeMounts"] = [{"name": "replay-tmp", "mountPath": TMP}]
    spec["volumes"] = [{"name": "replay-tmp", "emptyDir": {}}]
    return {"metadata": {"labels": labels}, "spec": spec}


def _job_spec(replay: ReplaySpec, template: dict[str, Any]) -> dict[str, Any]:
    return {
        "backoffLimit": 0,  # a replay is not blindly retried: it could re-send messages twice
        "ttlSecondsAfterFinished": replay.ttl_seconds_after_finished,
        "activeDeadlineSeconds": replay.active_deadline_seconds,
        "template": template,
    }


def replay_job(
    body: dict[str, Any], replay: ReplaySpec, worker_deployment: dict[str, Any], requested_at: str
) -> dict[str, Any]:
    """The on-demand Job for one `reviewops.dev/replay-requested-at` value."""
    policy = body["metadata"]["name"]
    name = job_name_for_request(policy, requested_at)
    labels = _labels(policy, "on-demand")
    template = pod_template(worker_deployment, replay_command(replay, name), labels, [])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": body["metadata"]["namespace"],
            "labels": labels,
            "annotations": {REPLAY_ANNOTATION: requested_at},
            "ownerReferences": [owner_reference(body)],
        },
        "spec": _job_spec(replay, template),
    }


def replay_cronjob(
    body: dict[str, Any], replay: ReplaySpec, worker_deployment: dict[str, Any]
) -> dict[str, Any]:
    """The scheduled replay; each Job learns its own name (for the result key) from its pod's labels."""
    if not replay.schedule:
        raise ValueError("spec.deadLetters.replay.schedule is not set")
    policy = body["metadata"]["name"]
    labels = _labels(policy, "schedule")
    job_name_env = {
        "name": JOB_NAME_ENV,
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}},
    }
    command = replay_command(replay, f"$({JOB_NAME_ENV})")
    template = pod_template(worker_deployment, command, labels, [job_name_env])
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": cronjob_name(policy),
            "namespace": body["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(body)],
        },
        "spec": {
            "schedule": replay.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": labels}, "spec": _job_spec(replay, template)},
        },
    }


def pending_request(annotations: dict[str, str] | None, handled: list[str] | None) -> str | None:
    """The replay request to act on, if the annotation holds a timestamp not handled before."""
    requested_at = (annotations or {}).get(REPLAY_ANNOTATION, "").strip()
    if not requested_at or requested_at in (handled or []):
        return None
    return requested_at


def remember(handled: list[str] | None, requested_at: str) -> list[str]:
    """Handled request timestamps, newest last, bounded so the status stays small."""
    kept = [h for h in handled or [] if h != requested_at]
    return [*kept, requested_at][-HANDLED_REQUESTS_KEPT:]


def parse_result(raw: bytes | str | None) -> dict[str, Any] | None:
    """The replay command's result JSON, or None when it has not finished (or wrote garbage)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("replayed", "skipped", "failed"):
        value = data.get(key, 0)
        out[key] = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
    for source, target in (("started_at", "startTime"), ("finished_at", "finishTime")):
        if data.get(source) is not None:
            out[target] = str(data[source])
    return out


def job_finished(job: dict[str, Any]) -> str | None:
    """'Complete' / 'Failed' from the Job's conditions, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def last_replay(job: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
    """`status.lastReplay` for the newest replay Job of a policy."""
    meta = job.get("metadata") or {}
    labels = meta.get("labels") or {}
    job_status = job.get("status") or {}
    finished = job_finished(job)
    if finished == "Failed":
        state = "Failed"
    elif finished == "Complete" or (result is not None and result.get("finishTime")):
        state = "Succeeded"
    else:
        state = "Running"
    out: dict[str, Any] = {
        "jobName": meta.get("name"),
        "trigger": labels.get(TRIGGER_LABEL, "unknown"),
        "requestedAt": (meta.get("annotations") or {}).get(REPLAY_ANNOTATION),
        "state": state,
        "startTime": job_status.get("startTime") or meta.get("creationTimestamp"),
        "finishTime": job_status.get("completionTime"),
        "replayed": None,
        "skipped": None,
        "failed": None,
    }
    if result is not None:
        out.update(result)
    return out
