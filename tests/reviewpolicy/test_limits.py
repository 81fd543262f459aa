"""The CRD's camelCase spec -> the Redis policy snapshot."""

from __future__ import annotations

import pytest
from reviewpolicy.limits import SpecError, snapshot_from_spec

from reviewops.policy.store import ReviewSettings, TenantLimits


def test_full_spec_maps_field_by_field() -> None:
    spec = {
        "rateLimits": {
            "default": {
                "requestsPerMinute": 600,
                "burst": 100,
                "reviewsPerHour": 200,
                "llmTokensPerDay": 2000000,
            },
            "tenants": [
                {"installationId": 1234, "requestsPerMinute": 6000, "reviewsPerHour": 2000},
                {"installationId": 7},
            ],
        },
        "review": {
            "analyzers": {"secrets": True, "qa-checklist": False},
            "severityThreshold": "error",
            "skipDrafts": False,
        },
    }
    snap = snapshot_from_spec(spec, generation=4, policy="ns/default")
    assert snap.generation == 4 and snap.policy == "ns/default"
    assert snap.default == TenantLimits(600, 100, 200, 2_000_000)
    assert snap.tenants == {1234: {"requests_per_minute": 6000, "reviews_per_hour": 2000}, 7: {}}
    assert snap.review == ReviewSettings({"secrets": True, "qa-checklist": False}, "error", False)


def test_empty_spec_takes_the_crd_defaults() -> None:
    snap = snapshot_from_spec({}, generation=1, policy="ns/p")
    assert snap.default == TenantLimits() and snap.tenants == {}
    assert snap.review == ReviewSettings({}, "warning", True)


def test_partial_default_keeps_the_other_defaults() -> None:
    snap = snapshot_from_spec({"rateLimits": {"default": {"burst": 5}}}, generation=1, policy="ns/p")
    assert snap.default == TenantLimits(burst=5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"rateLimits": {"tenants": [{"installationId": 0}]}}, r"tenants\[0\]\.installationId"),
        ({"rateLimits": {"tenants": [{"burst": 1}]}}, r"tenants\[0\]\.installationId"),
        ({"rateLimits": {"tenants": [{"installationId": 1}, {"installationId": 1}]}}, "listed twice"),
        ({"rateLimits": {"default": {"burst": -1}}}, r"default\.burst"),
        ({"rateLimits": {"default": {"burst": "9"}}}, r"default\.burst"),
        ({"review": {"severityThreshold": "fatal"}}, "severityThreshold"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        snapshot_from_spec(spec, generation=1, policy="ns/p")


def test_retries_map_to_the_live_retry_policy() -> None:
    from reviewops.policy.store import RetrySettings

    spec = {"retries": {"maxRetries": 3, "minBackoffSeconds": 1, "maxBackoffSeconds": 90.5}}
    assert snapshot_from_spec(spec, generation=1, policy="ns/p").retries == RetrySettings(3, 1.0, 90.5)
    assert snapshot_from_spec({}, generation=1, policy="ns/p").retries == RetrySettings()


@pytest.mark.parametrize(
    ("retries", "message"),
    [
        ({"maxRetries": -1}, "spec.retries.maxRetries"),
        ({"maxRetries": True}, "spec.retries.maxRetries"),
        ({"minBackoffSeconds": 0}, "spec.retries.minBackoffSeconds"),
        ({"minBackoffSeconds": 10, "maxBackoffSeconds": 5}, "spec.retries.maxBackoffSeconds"),
    ],
)
def test_bad_retries_name_the_field(retries: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        snapshot_from_spec({"retries": retries}, generation=1, policy="ns/p")
