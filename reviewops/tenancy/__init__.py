"""Tenant-facing domain code: API keys and daily usage counters."""
