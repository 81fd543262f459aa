"""Generate charts/reviewops/values.schema.json: JSON Schema draft-07, closed (additionalProperties: false).

Written as Python because the schema repeats Kubernetes shapes (security contexts, affinity, selectors) that
are easier to keep right once. `python scripts/chart_schema.py --write` after changing values.yaml; a test
fails when the committed schema differs from the generated one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "charts" / "reviewops" / "values.schema.json"

STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}


Schema = dict[str, Any]


def integer(mn: int | None = None, mx: int | None = None) -> Schema:
    d: Schema = {"type": "integer"}
    if mn is not None:
        d["minimum"] = mn
    if mx is not None:
        d["maximum"] = mx
    return d


def obj(props: dict[str, Schema], desc: str | None = None, required: list[str] | None = None) -> Schema:
    d: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    if desc:
        d["description"] = desc
    if required:
        d["required"] = required
    return d


def mapping(v: Schema | None = None, desc: str | None = None) -> Schema:
    d: Schema = {"type": "object", "additionalProperties": v or STR}
    if desc:
        d["description"] = desc
    return d


ANY_OBJECT = {"type": "object"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


LABELS = mapping()
seccomp = obj(
    {
        "type": {"type": "string", "enum": ["RuntimeDefault", "Localhost", "Unconfined"]},
        "localhostProfile": STR,
    }
)
selinux = obj({"level": STR, "role": STR, "type": STR, "user": STR})
apparmor = obj(
    {
        "type": {"type": "string", "enum": ["RuntimeDefault", "Localhost", "Unconfined"]},
        "localhostProfile": STR,
    }
)
windows = obj(
    {"gmsaCredentialSpec": STR, "gmsaCredentialSpecName": STR, "hostProcess": BOOL, "runAsUserName": STR}
)
podsec = obj(
    {
        "fsGroup": INT,
        "fsGroupChangePolicy": {"type": "string", "enum": ["Always", "OnRootMismatch"]},
        "runAsGroup": INT,
        "runAsNonRoot": BOOL,
        "runAsUser": INT,
        "seLinuxOptions": selinux,
        "seccompProfile": seccomp,
        "appArmorProfile": apparmor,
        "supplementalGroups": array(INT),
        "supplementalGroupsPolicy": STR,
        "seLinuxChangePolicy": STR,
        "sysctls": array(obj({"name": STR, "value": STR}, required=["name", "value"])),
        "windowsOptions": windows,
    },
    "Pod security context of every pod.",
)
ctrsec = obj(
    {
        "allowPrivilegeEscalation": BOOL,
        "appArmorProfile": apparmor,
        "capabilities": obj({"add": array(STR), "drop": array(STR)}),
        "privileged": BOOL,
        "procMount": STR,
        "readOnlyRootFilesystem": BOOL,
        "runAsGroup": INT,
        "runAsNonRoot": BOOL,
        "runAsUser": INT,
        "seLinuxOptions": selinux,
        "seccompProfile": seccomp,
        "windowsOptions": windows,
    },
    "Container security context of every container.",
)
qty = {"type": ["string", "number"]}
resources = obj(
    {
        "requests": mapping(qty),
        "limits": mapping(qty),
        "claims": array(obj({"name": STR, "request": STR}, required=["name"])),
    },
    "Container resources.",
)
labelSelector = obj(
    {
        "matchLabels": mapping(),
        "matchExpressions": array(
            obj(
                {
                    "key": STR,
                    "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": array(STR),
                },
                required=["key", "operator"],
            )
        ),
    }
)
nodeReq = obj(
    {
        "key": STR,
        "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]},
        "values": array(STR),
    },
    required=["key", "operator"],
)
nodeTerm = obj({"matchExpressions": array(nodeReq), "matchFields": array(nodeReq)})
podTerm = obj(
    {
        "labelSelector": labelSelector,
        "namespaceSelector": labelSelector,
        "namespaces": array(STR),
        "topologyKey": STR,
        "matchLabelKeys": array(STR),
        "mismatchLabelKeys": array(STR),
    },
    required=["topologyKey"],
)
podAff = obj(
    {
        "requiredDuringSchedulingIgnoredDuringExecution": array(podTerm),
        "preferredDuringSchedulingIgnoredDuringExecution": array(
            obj(
                {"weight": integer(1, 100), "podAffinityTerm": podTerm},
                required=["weight", "podAffinityTerm"],
            )
        ),
    }
)
affinity = obj(
    {
        "nodeAffinity": obj(
            {
                "requiredDuringSchedulingIgnoredDuringExecution": obj(
                    {"nodeSelectorTerms": array(nodeTerm)}, required=["nodeSelectorTerms"]
                ),
                "preferredDuringSchedulingIgnoredDuringExecution": array(
                    obj(
                        {"weight": integer(1, 100), "preference": nodeTerm}, required=["weight", "preference"]
                    )
                ),
            }
        ),
        "podAffinity": podAff,
        "podAntiAffinity": podAff,
    },
    "Pod affinity.",
)
tolerations = array(
    obj(
        {
            "key": STR,
            "operator": {"type": "string", "enum": ["Exists", "Equal"]},
            "value": STR,
            "effect": {"type": "string", "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
            "tolerationSeconds": INT,
        }
    )
)
tsc = array(
    obj(
        {
            "maxSkew": integer(1),
            "topologyKey": STR,
            "whenUnsatisfiable": {"type": "string", "enum": ["DoNotSchedule", "ScheduleAnyway"]},
            "labelSelector": labelSelector,
            "minDomains": integer(1),
            "nodeAffinityPolicy": STR,
            "nodeTaintsPolicy": STR,
            "matchLabelKeys": array(STR),
        },
        required=["maxSkew", "topologyKey", "whenUnsatisfiable"],
    )
)


def sched(extra: dict[str, Schema], spread: bool = True) -> dict[str, Schema]:
    d: dict[str, Schema] = {
        "resources": resources,
        "nodeSelector": LABELS,
        "tolerations": tolerations,
        "affinity": affinity,
        "podAnnotations": LABELS,
        "podLabels": LABELS,
    }
    if spread:
        d["topologySpreadConstraints"] = tsc
    d.update(extra)
    return d


peer = array(
    obj(
        {
            "podSelector": labelSelector,
            "namespaceSelector": labelSelector,
            "ipBlock": obj({"cidr": STR, "except": array(STR)}, required=["cidr"]),
        }
    )
)


def limits(req: list[str] | None = None) -> Schema:
    return obj(
        {
            "installationId": integer(1),
            "requestsPerMinute": integer(1),
            "burst": integer(1),
            "reviewsPerHour": integer(0),
            "llmTokensPerDay": integer(0),
        },
        required=req,
    )


dur = {"type": "string", "pattern": "^[0-9]+(s|m|h)$"}
schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "ReviewOps chart values",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "global": {
            "type": "object",
            "description": "Helm's global values, shared with parent charts, so left open (unused here).",
        },
        "nameOverride": STR,
        "fullnameOverride": STR,
        "commonLabels": LABELS,
        "image": obj(
            {
                "repository": {"type": "string", "minLength": 1},
                "tag": STR,
                "digest": {"type": "string", "pattern": "^(sha256:[a-f0-9]{64})?$"},
                "pullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
            },
            required=["repository"],
        ),
        "imagePullSecrets": array(obj({"name": STR}, required=["name"])),
        "podSecurityContext": podsec,
        "containerSecurityContext": ctrsec,
        "config": obj(
            {
                "logLevel": {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
                "githubApiUrl": {"type": "string", "pattern": "^https?://"},
                "githubAppId": {"type": ["integer", "null"], "minimum": 1},
                "llmBaseUrl": {"type": "string", "pattern": "^(https?://.*)?$"},
                "llmModel": STR,
                "mockLlm": BOOL,
                "corsOrigins": array(STR),
                "extraEnv": {
                    "type": "object",
                    "propertyNames": {"pattern": "^REVIEWOPS_[A-Z0-9_]+$"},
                    "additionalProperties": STR,
                },
            }
        ),
        "secrets": obj(
            {
                "existingSecret": STR,
                "databaseUrl": {"type": "string", "pattern": "^((postgresql|postgres)(\\+psycopg)?://.*)?$"},
                "redisUrl": {"type": "string", "pattern": "^((redis|rediss|unix)://.*)?$"},
                "webhookSecrets": array({"type": "string", "minLength": 1, "pattern": "^[^,]+$"}),
                "adminToken": STR,
                "githubPrivateKey": STR,
                "llmApiKey": STR,
                "mountAsFiles": BOOL,
            }
        ),
        "api": obj(
            sched(
                {
                    "replicas": integer(0),
                    "uvicornWorkers": integer(1, 64),
                    "preStopDelaySeconds": integer(0, 120),
                    "podAntiAffinity": {"type": "string", "enum": ["soft", "hard", "none"]},
                    "zoneSpread": BOOL,
                    "service": obj(
                        {
                            "type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                            "port": integer(1, 65535),
                            "annotations": LABELS,
                        }
                    ),
                    "ingress": obj(
                        {
                            "enabled": BOOL,
                            "className": STR,
                            "annotations": LABELS,
                            "hosts": array(
                                obj(
                                    {
                                        "host": STR,
                                        "paths": array(
                                            obj(
                                                {
                                                    "path": STR,
                                                    "pathType": {
                                                        "type": "string",
                                                        "enum": ["Prefix", "Exact", "ImplementationSpecific"],
                                                    },
                                                },
                                                required=["path", "pathType"],
                                            )
                                        ),
                                    },
                                    required=["host", "paths"],
                                )
                            ),
                            "tls": array(obj({"secretName": STR, "hosts": array(STR)})),
                        }
                    ),
                    "autoscaling": obj(
                        {
                            "enabled": BOOL,
                            "minReplicas": integer(1),
                            "maxReplicas": integer(1),
                            "targetCPUUtilizationPercentage": integer(1, 100),
                        }
                    ),
                    "pdb": obj({"enabled": BOOL, "maxUnavailable": {"type": ["integer", "string"]}}),
                }
            )
        ),
        "worker": obj(
            sched(
                {
                    "replicas": integer(0),
                    "reviewsInFlight": integer(1, 512),
                    "threads": {"type": ["integer", "null"], "minimum": 1, "maximum": 512},
                    "shutdownTimeoutSeconds": integer(600),
                    "pdb": obj({"enabled": BOOL, "maxUnavailable": {"type": ["integer", "string"]}}),
                }
            )
        ),
        "operator": obj(
            sched({"enabled": BOOL, "clusterWide": BOOL, "replicas": integer(1, 5)}, spread=False)
        ),
        "migrations": obj(
            {
                "enabled": BOOL,
                "ttlSecondsAfterFinished": integer(0),
                "backoffLimit": integer(0),
                "resources": resources,
            }
        ),
        "backup": obj(
            {
                "enabled": BOOL,
                "schedule": {
                    "type": "string",
                    "pattern": r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$",
                },
                "retentionDays": integer(1),
                "persistentVolumeClaim": STR,
                "image": {"type": "string", "minLength": 1},
                "runAsUser": integer(1),
                "resources": resources,
            }
        ),
        "doctor": obj({"enabled": BOOL, "resources": resources}),
        "reviewPolicy": obj(
            {
                "enabled": BOOL,
                "name": STR,
                "workers": obj(
                    {
                        "queues": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"},
                            "minItems": 1,
                            "maxItems": 16,
                            "uniqueItems": True,
                        },
                        "minReplicas": integer(0, 1000),
                        "maxReplicas": integer(1, 1000),
                        "targetBacklogPerReplica": integer(1),
                        "scaleUpStep": integer(0),
                        "scaleDownStabilizationSeconds": integer(0),
                        "pollSeconds": integer(1, 3600),
                    }
                ),
                "rateLimits": obj(
                    {
                        "default": obj(
                            {
                                "requestsPerMinute": integer(1),
                                "burst": integer(1),
                                "reviewsPerHour": integer(0),
                                "llmTokensPerDay": integer(0),
                            }
                        ),
                        "tenants": array(limits(["installationId"])),
                    }
                ),
                "deadLetters": obj(
                    {
                        "replay": obj(
                            {
                                "schedule": {
                                    "type": "string",
                                    "pattern": r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
                                    r"|(\S+\s+){4}\S+)$",
                                },
                                "errorTypes": {
                                    "type": "array",
                                    "items": {"type": "string", "enum": ["transient", "permanent"]},
                                    "minItems": 1,
                                    "uniqueItems": True,
                                },
                                "olderThan": {"type": "string", "pattern": "^[0-9]+(s|m|h|d|w)$"},
                                "maxMessages": integer(1, 100000),
                                "ratePerSecond": integer(1, 10000),
                                "ttlSecondsAfterFinished": integer(0, 604800),
                                "activeDeadlineSeconds": integer(1, 86400),
                            }
                        )
                    }
                ),
                "review": obj(
                    {
                        "analyzers": mapping(BOOL),
                        "severityThreshold": {
                            "type": "string",
                            "enum": ["info", "warning", "error"],
                        },
                        "skipDrafts": BOOL,
                    }
                ),
            }
        ),
        "serviceAccount": obj(
            {
                "create": BOOL,
                "name": {
                    "type": "string",
                    "pattern": "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$",
                    "maxLength": 253,
                },
                "annotations": LABELS,
            }
        ),
        "networkPolicy": obj({"enabled": BOOL, "apiFrom": peer, "metricsFrom": peer}),
        "metrics": obj(
            {
                "serviceMonitor": obj(
                    {"enabled": BOOL, "interval": dur, "scrapeTimeout": dur, "labels": LABELS}
                ),
                "prometheusRule": obj(
                    {
                        "enabled": BOOL,
                        "labels": LABELS,
                        "alertLabels": LABELS,
                        "runbookBaseUrl": {"type": "string", "pattern": "^https?://"},
                        "githubRateLimitRemainingThreshold": integer(1),
                        "llmFailureRatioThreshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    }
                ),
                "dashboards": obj(
                    {"enabled": BOOL, "namespace": STR, "labels": LABELS, "annotations": LABELS}
                ),
            }
        ),
    },
}


def render() -> str:
    return json.dumps(schema, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the chart's values.schema.json.")
    parser.add_argument("--write", action="store_true", help="write the file (default: check it)")
    args = parser.parse_args(argv)
    if args.write:
        OUT.write_text(render())
        return 0
    if not OUT.is_file() or OUT.read_text() != render():
        print(
            "values.schema.json is out of date: run python scripts/chart_schema.py --write", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
