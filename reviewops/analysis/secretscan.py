"""Credential detection on single lines: detect-secrets' plugin classes plus our own token patterns.

The plugins are used directly (their `analyze_string`), not through detect-secrets' global settings, so
scanning is thread-safe in the worker and never calls a verification endpoint over the network. Every
caller gets back the secret's *kind* and a redacted line; the secret value itself never leaves this module
except inside `Detection.value`, which callers must not print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from detect_secrets.filters import heuristic
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import REGEX_BY_FILETYPE, KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import determine_file_type

REDACTED = "[REDACTED]"
ALLOWLIST = re.compile(r"pragma:\s*allowlist[ -]secret", re.IGNORECASE)

# Our own patterns, on top of detect-secrets (which misses fine-grained PATs and AWS secret keys).
OWN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GitHub Token", re.compile(r"\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,255}\b")),
    ("GitHub Token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),
    ("AWS Access Key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")),
    (
        "AWS Secret Access Key",
        re.compile(
            r"(?i)aws_?secret_?(?:access_?)?key['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    (
        "Private Key",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ),
)

_REGEX_PLUGINS: tuple[RegexBasedDetector, ...] = (
    ArtifactoryDetector(),
    AWSKeyDetector(),
    AzureStorageKeyDetector(),
    BasicAuthDetector(),
    DiscordBotTokenDetector(),
    GitHubTokenDetector(),
    GitLabTokenDetector(),
    JwtTokenDetector(),
    MailchimpDetector(),
    NpmDetector(),
    OpenAIDetector(),
    PrivateKeyDetector(),
    PypiTokenDetector(),
    SendGridDetector(),
    SlackDetector(),
    SquareOAuthDetector(),
    StripeDetector(),
    TelegramBotTokenDetector(),
    TwilioKeyDetector(),
)
_KEYWORD = KeywordDetector()


@dataclass(frozen=True)
class Detection:
    kind: str  # e.g. "GitHub Token"; safe to print
    value: str = field(repr=False)  # the secret itself: never print, log or store


def _plugin_hits(plugin: BasePlugin, path: str, line: str) -> Iterator[str]:
    if isinstance(plugin, KeywordDetector):
        # The keyword rules depend on the language (quotes required in code, not in config files).
        table = REGEX_BY_FILETYPE.get(determine_file_type(path))
        yield from plugin.analyze_string(line, denylist_regex_to_group=table)
    else:
        yield from plugin.analyze_string(line)


def _looks_fake(secret: str, line: str, plugin: BasePlugin | None) -> bool:
    """detect-secrets' heuristic filters: templates, ${VARS}, sequences, UUIDs, ids, indirect refs."""
    if len(secret) < 4:
        return True
    if heuristic.is_templated_secret(secret) or heuristic.is_prefixed_with_dollar_sign(secret):
        return True
    if heuristic.is_sequential_string(secret) or heuristic.is_potential_uuid(secret):
        return True
    if heuristic.is_not_alphanumeric_string(secret):
        return True
    if plugin is not None and heuristic.is_likely_id_string(secret, line, plugin):
        return True
    return isinstance(plugin, KeywordDetector) and heuristic.is_indirect_reference(line)


def detect(path: str, line: str) -> list[Detection]:
    """Every credential in one line of `path` (file type picks the keyword rules)."""
    if not line.strip() or ALLOWLIST.search(line):
        return []
    if heuristic.is_lock_file(path) or heuristic.is_non_text_file(path):
        return []
    found: dict[str, Detection] = {}
    for kind, pattern in OWN_PATTERNS:
        for match in pattern.finditer(line):
            value = match.group(1) if pattern.groups else match.group(0)
            found.setdefault(value, Detection(kind, value))
    for plugin in (*_REGEX_PLUGINS, _KEYWORD):
        for value in _plugin_hits(plugin, path, line):
            if not value or value in found or _looks_fake(value, line, plugin):
                continue
            found[value] = Detection(str(plugin.secret_type), value)
    # A value nested in another (e.g. a token inside a keyword assignment) is one finding, not two.
    values = sorted(found, key=len, reverse=True)
    kept: list[Detection] = []
    for value in values:
        if any(value in longer.value for longer in kept):
            continue
        kept.append(found[value])
    return kept


def redact(line: str, detections: list[Detection]) -> str:
    """`line` with every detected secret replaced by [REDACTED] (longest first)."""
    for det in sorted(detections, key=lambda d: len(d.value), reverse=True):
        line = line.replace(det.value, REDACTED)
    return line


def redact_line(path: str, line: str) -> str:
    """Redact whatever `detect` finds; used before text leaves the process (LLM prompts, outputs)."""
    detections = detect(path, line)
    return redact(line, detections) if detections else line
