"""GitHub webhook signatures (`X-Hub-Signature-256`): HMAC-SHA256 of the raw body, constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Literal

SignatureFailure = Literal["missing", "malformed", "wrong_algorithm", "mismatch", "no_secret"]
_HEADER = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class SignatureError(Exception):
    """Verification failed; `reason` is a bounded label for metrics and logs."""

    def __init__(self, reason: SignatureFailure, detail: str) -> None:
        super().__init__(detail)
        self.reason: SignatureFailure = reason
        self.detail = detail


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def expected_digest(header: str | None, secrets: Iterable[str]) -> bytes:
    """The hex digest the header claims, checked before a byte of the body is read; raises SignatureError
    (no_secret, missing, wrong_algorithm, malformed)."""
    if not any(secrets):
        raise SignatureError("no_secret", "no webhook secret is configured (REVIEWOPS_WEBHOOK_SECRETS)")
    if not header:
        raise SignatureError("missing", "X-Hub-Signature-256 header is missing")
    algorithm = header.split("=", 1)[0] if "=" in header else ""
    if algorithm and algorithm.lower() != "sha256" and algorithm.isalnum():
        raise SignatureError(
            "wrong_algorithm", f"unsupported signature algorithm {algorithm[:16]!r}; use sha256"
        )
    match = _HEADER.match(header.strip())
    if not match:
        raise SignatureError("malformed", "X-Hub-Signature-256 must be 'sha256=' followed by 64 hex digits")
    return match.group(1).lower().encode()


class StreamingVerifier:
    """HMACs computed while the body streams in, one per configured secret (a rotation keeps two), so
    the body is verified the moment its last chunk arrives and never has to be walked again."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._macs = [hmac.new(s.encode(), digestmod=hashlib.sha256) for s in secrets if s]

    def update(self, chunk: bytes) -> None:
        for mac in self._macs:
            mac.update(chunk)

    def verify(self, given: bytes) -> int:
        """The index of the secret that signed the body, or SignatureError("mismatch")."""
        matched = -1
        for index, mac in enumerate(self._macs):
            # No early exit: the time taken does not tell which secret matched.
            if hmac.compare_digest(mac.hexdigest().encode(), given) and matched < 0:
                matched = index
        if matched < 0:
            raise SignatureError("mismatch", "signature does not match any configured secret")
        return matched


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> int:
    """Return the index of the secret that signed `body`, or raise SignatureError.

    Every configured secret is tried so a rotation (new secret first, old one kept) drops nothing.
    """
    keys = [s for s in secrets if s]
    given = expected_digest(header, keys)
    verifier = StreamingVerifier(keys)
    verifier.update(body)
    return verifier.verify(given)
