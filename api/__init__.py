"""The ReviewOps HTTP API: webhook intake, health, metrics and the tenant/admin REST API."""
