"""The CRD: structural, accepts every example, rejects bad objects (jsonschema + its CEL rules)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "charts" / "reviewops" / "crds" / "reviewpolicy-crd.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("reviewpolicy-*.yaml"))
CRD = yaml.safe_load(CRD_PATH.read_text())
[VERSION] = CRD["spec"]["versions"]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
_SIMPLE_RULE = re.compile(r"^self\.(\w+) (>=|<=|>|<|==) self\.(\w+)$")
# `!has(self.a) || !has(self.b) || <simple rule>`: the rule applies only when both optional fields are set.
_GUARDED_RULE = re.compile(r"^((?:!has\(self\.\w+\) \|\| )+)(.*)$")


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """What the API server does before validation: fill in `default`s, recursively."""
    if isinstance(value, dict) and "properties" in schema:
        value = dict(value)
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = with_defaults(sub, value[name])
    return value


def k8s_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """What the API server adds to JSON schema: x-kubernetes-validations (we only write rules of the form
    self.a OP self.b) and the uniqueness of x-kubernetes-list-type set/map lists."""
    errors = []
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" and len({repr(v) for v in value}) != len(value):
        errors.append(f"{path}: duplicate entries in a set")
    if list_type == "map":
        keys = [tuple(item.get(k) for k in schema["x-kubernetes-list-map-keys"]) for item in value]
        if len(set(keys)) != len(keys):
            errors.append(f"{path}: duplicate {schema['x-kubernetes-list-map-keys']}")
    for rule in schema.get("x-kubernetes-validations", []):
        text = rule["rule"]
        guarded = _GUARDED_RULE.match(text)
        if guarded:
            if not all(name in value for name in re.findall(r"!has\(self\.(\w+)\)", guarded[1])):
                continue
            text = guarded[2]
        match = _SIMPLE_RULE.match(text)
        assert match, f"unsupported rule in the test evaluator: {rule['rule']}"
        left, op, right = value[match[1]], match[2], value[match[3]]
        ok = {
            ">=": left >= right,
            "<=": left <= right,
            ">": left > right,
            "<": left < right,
            "==": left == right,
        }
        if not ok[op]:
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                errors += k8s_errors(sub, value[name], f"{path}.{name}")
    return errors


def undeclared(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Fields the API server would silently prune (not declared in the structural schema)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if props is not None and key in props:
                found += undeclared(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                found += undeclared(extra, sub, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += undeclared(schema["items"], item, f"{path}[{index}]")
    return found


def validate(obj: dict[str, Any]) -> list[str]:
    obj = with_defaults(SCHEMA, obj)
    validator = jsonschema.Draft7Validator(SCHEMA)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    return errors or k8s_errors(SCHEMA, obj)


def test_crd_identity() -> None:
    assert CRD["metadata"]["name"] == "reviewpolicies.reviewops.dev"
    assert CRD["spec"]["group"] == "reviewops.dev" and CRD["spec"]["scope"] == "Namespaced"
    assert CRD["spec"]["names"]["shortNames"] == ["rp"] and CRD["spec"]["names"]["kind"] == "ReviewPolicy"
    assert VERSION["name"] == "v1alpha1" and VERSION["served"] and VERSION["storage"]
    assert VERSION["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in VERSION["additionalPrinterColumns"]}
    assert columns == {
        "Desired": ".status.desiredReplicas",
        "Backlog": ".status.backlog",
        "Delayed": ".status.delayed",
        "Dead Letters": ".status.deadLetters",
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Age": ".metadata.creationTimestamp",
    }


def _walk(schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type (a structural schema needs one everywhere)")
    for name, sub in (schema.get("properties") or {}).items():
        problems += _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += _walk(schema["additionalProperties"], f"{path}{{}}")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: properties and additionalProperties together are not structural")
    return problems


def test_schema_is_structural() -> None:
    assert _walk(SCHEMA, "") == []


def test_defaults_are_valid_themselves() -> None:
    filled = with_defaults(
        SCHEMA, {"apiVersion": "reviewops.dev/v1alpha1", "kind": "ReviewPolicy", "spec": {}}
    )
    assert validate(filled) == []
    assert filled["spec"]["workers"]["queues"] == ["reviews", "reviews.replay"]
    assert filled["spec"]["workers"]["minReplicas"] == 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_accepted(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        assert doc["apiVersion"] == "reviewops.dev/v1alpha1" and doc["kind"] == "ReviewPolicy"
        assert validate(doc) == []


def test_the_required_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"reviewpolicy-full.yaml", "reviewpolicy-minimal.yaml", "reviewpolicy-scale-to-zero.yaml"} <= names


BASE = {"apiVersion": "reviewops.dev/v1alpha1", "kind": "ReviewPolicy", "metadata": {"name": "x"}}


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ({"workers": {"minReplicas": -1}}, "minReplicas"),
        ({"workers": {"maxReplicas": 0}}, "maxReplicas"),
        ({"workers": {"minReplicas": 5, "maxReplicas": 2}}, "maxReplicas must be greater than or equal"),
        ({"workers": {"queues": []}}, "queues"),
        ({"workers": {"queues": ["reviews", "reviews"]}}, "queues"),
        ({"workers": {"pollSeconds": 0}}, "pollSeconds"),
        ({"workers": {"targetBacklogPerReplica": 0}}, "targetBacklogPerReplica"),
        ({"workers": {"deploymentName": "Worker_1"}}, "deploymentName"),
        ({"workers": {"scaleUpStep": "2"}}, "scaleUpStep"),
        ({"rateLimits": {"default": {"requestsPerMinute": "600"}}}, "requestsPerMinute"),
        ({"rateLimits": {"tenants": [{"burst": 5}]}}, "installationId"),
        ({"rateLimits": {"tenants": [{"installationId": 0}]}}, "installationId"),
        ({"rateLimits": {"tenants": [{"installationId": 7}, {"installationId": 7, "burst": 1}]}}, "tenants"),
        ({"deadLetters": {"replay": {"olderThan": "10 minutes"}}}, "olderThan"),
        ({"deadLetters": {"replay": {"errorTypes": ["bogus"]}}}, "errorTypes"),
        ({"deadLetters": {"replay": {"schedule": "every hour"}}}, "schedule"),
        ({"deadLetters": {"replay": {"maxMessages": 0}}}, "maxMessages"),
        ({"review": {"severityThreshold": "fatal"}}, "severityThreshold"),
        ({"review": {"analyzers": {"llm": "yes"}}}, "analyzers"),
        ({"review": {"skipDrafts": "true"}}, "skipDrafts"),
        ({"retries": {"maxRetries": 101}}, "maxRetries"),
        ({"retries": {"minBackoffSeconds": 0}}, "minBackoffSeconds"),
        (
            {"retries": {"minBackoffSeconds": 10, "maxBackoffSeconds": 5}},
            "maxBackoffSeconds must be at least",
        ),
    ],
)
def test_invalid_objects_are_rejected_with_the_field_named(spec: dict[str, Any], complaint: str) -> None:
    errors = validate(BASE | {"spec": spec})
    assert errors and any(complaint in e for e in errors), errors


def test_missing_spec_is_rejected() -> None:
    assert any("'spec' is a required property" in e for e in validate(dict(BASE)))


def test_undeclared_status_fields_are_found() -> None:
    status_schema = SCHEMA["properties"]["status"]
    assert undeclared(
        status_schema, {"backlog": 1, "bogus": 2, "lastReplay": {"jobName": "j", "x": 1}}, "s"
    ) == [
        "s.bogus",
        "s.lastReplay.x",
    ]
    assert undeclared(status_schema, {"kopf": {"anything": {"goes": 1}}, "backlogByQueue": {"q": 1}}) == []
