"""Tenant-facing domain code: API keys, usage counters, the admin audit trail."""
