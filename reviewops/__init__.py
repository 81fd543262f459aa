"""ReviewOps: self-hosted, Kubernetes-native AI code review for GitHub (shared domain package)."""

__version__ = "0.1.0"
