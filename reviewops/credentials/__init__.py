"""Credentials: detection (Betterleaks' rules plus our own where it has none) and the one redaction gate
every outgoing channel passes through (comments, stored findings, logs, LLM prompts, CLI output).

At the bottom of the layers, so the analysis engine, the review lifecycle and telemetry can all use it.
"""
