"""The ReviewPolicy operator's own settings (`REVIEWOPS_OPERATOR_*`): a base of `reviewops.settings.Settings`,
kept apart because only the operator reads them (metrics port, leader election on a Lease)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorFields(BaseSettings):
    """Every `REVIEWOPS_OPERATOR_*` setting; validated with the rest of `Settings`, which inherits them."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOPS_", extra="ignore", validate_default=True)

    operator_metrics_port: int = Field(
        default=9192,
        ge=1,
        le=65535,
        description="Port of the ReviewPolicy operator's /metrics and /healthz (liveness) endpoint.",
    )
    operator_leader_election: bool = Field(
        default=True,
        description="The operator acts only while it holds a coordination.k8s.io Lease, so two replicas never "
        "both scale or write (client-go's algorithm); off: it acts at once (run one replica).",
    )
    operator_lease_name: str = Field(
        default="reviewops-operator",
        min_length=1,
        max_length=253,
        description="Name of the operator's Lease.",
    )
    operator_lease_namespace: str | None = Field(
        default=None,
        description="Namespace of the operator's Lease. Unset: the pod's own namespace (from its service "
        "account), else `default`.",
    )
    operator_lease_seconds: float = Field(
        default=15,
        ge=3,
        le=300,
        description="Lease duration: a standby takes over this long after the holder's last renewal (renewed "
        "every third of it; the holder stops acting two thirds of it after a failed renewal).",
    )
