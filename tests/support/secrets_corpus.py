"""The planted-credential corpus: realistic fake credentials generated from a seed, and decoys.

Credentials are never stored in the repository (GitHub push protection would block it, and a stored
value is one a detector could be tuned to): `cases(seed)` draws fresh values of each provider's shape,
so every seed is a held-out set. The line templates and decoys live in
tests/fixtures/secrets-corpus/cases.yaml; `{cred}` in a template is replaced by the generated value.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CASES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "secrets-corpus" / "cases.yaml"
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER32 = string.ascii_uppercase + "234567"


def _draw(rng: random.Random, alphabet: str, n: int) -> str:
    """n characters of `alphabet`, re-drawn until it has a digit and a letter (real tokens do)."""
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(n))
        digits = sum(c.isdigit() for c in value)
        letters = sum(c.isalpha() for c in value)
        if not any(c.isalpha() for c in alphabet) or not any(c.isdigit() for c in alphabet):
            return value
        if alphabet == HEX or (digits >= max(2, n // 12) and letters >= n // 3):
            return value


def _pem(rng: random.Random, label: str, escaped: bool) -> str:
    body = _draw(rng, B64, 64 * 12 + 20)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    block = [f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]
    return ("\\n".join(block) + "\\n") if escaped else "\n".join(block)


def _password(rng: random.Random) -> str:
    """A human-ish strong password with URL-legal sub-delims (`!`, `*`) in it."""
    core = _draw(rng, ALNUM, 14)
    return core[:5] + rng.choice("!*") + core[5:10] + rng.choice("!*$") + core[10:]


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "github_classic": lambda r: "ghp_" + _draw(r, ALNUM, 36),
    "github_oauth": lambda r: "gho_" + _draw(r, ALNUM, 36),
    "github_fine": lambda r: "github_pat_" + _draw(r, ALNUM, 22) + "_" + _draw(r, ALNUM, 59),
    "aws_key_id": lambda r: "AKIA" + _draw(r, UPPER32, 16),
    "aws_secret": lambda r: _draw(r, B64, 40),
    "stripe_live": lambda r: "sk_live_" + _draw(r, ALNUM, 99),
    "stripe_restricted": lambda r: "rk_live_" + _draw(r, ALNUM, 24),
    "slack_bot": lambda r: (
        f"xoxb-{_draw(r, '0123456789', 12)}-{_draw(r, '0123456789', 13)}-{_draw(r, ALNUM, 24)}"
    ),
    "slack_webhook": lambda r: (
        "https://hooks.slack.com/services/T"
        + _draw(r, UPPER32, 8)
        + "/B"
        + _draw(r, UPPER32, 10)
        + "/"
        + _draw(r, ALNUM, 24)
    ),
    "google_api": lambda r: "AIza" + _draw(r, URLSAFE, 35),
    "anthropic": lambda r: "sk-ant-api03-" + _draw(r, URLSAFE, 93) + "AA",
    "openai_proj": lambda r: "sk-proj-" + _draw(r, URLSAFE, 74) + "T3BlbkFJ" + _draw(r, URLSAFE, 74),
    "twilio_sid": lambda r: "AC" + _draw(r, HEX, 32),
    "twilio_token": lambda r: _draw(r, HEX, 32),
    "twilio_api_key": lambda r: "SK" + _draw(r, HEX, 32),
    "npm": lambda r: "npm_" + _draw(r, ALNUM, 36),
    "pypi": lambda r: "pypi-AgEIcHlwaS5vcmc" + _draw(r, URLSAFE, 120),
    "gitlab": lambda r: "glpat-" + _draw(r, URLSAFE, 20),
    "azure_storage": lambda r: _draw(r, B64, 86) + "==",
    "sendgrid": lambda r: "SG." + _draw(r, URLSAFE, 22) + "." + _draw(r, URLSAFE, 43),
    "mailchimp": lambda r: _draw(r, HEX, 32) + "-us" + str(r.randint(1, 21)),
    "telegram": lambda r: str(r.randint(10**8, 10**10)) + ":AA" + _draw(r, URLSAFE, 33),
    "shopify": lambda r: "shpat_" + _draw(r, HEX, 32),
    "huggingface": lambda r: "hf_" + _draw(r, string.ascii_letters, 34),
    "digitalocean": lambda r: "dop_v1_" + _draw(r, HEX, 64),
    "databricks": lambda r: "dapi" + _draw(r, HEX, 32),
    "rsa_key": lambda r: _pem(r, "RSA PRIVATE KEY", escaped=False),
    "openssh_key": lambda r: _pem(r, "OPENSSH PRIVATE KEY", escaped=False),
    "pkcs8_escaped": lambda r: _pem(r, "PRIVATE KEY", escaped=True),
    "ec_escaped": lambda r: _pem(r, "EC PRIVATE KEY", escaped=True),
    "password": _password,
    "generic_token": lambda r: _draw(r, ALNUM, 32),
}


@dataclass(frozen=True)
class Case:
    """One file of the corpus: `added` lines are new, `removed`/`context` lines are old or unchanged."""

    id: str
    path: str
    provider: str  # the provider family (for the "15 providers" count) or "decoy"
    kind: str  # "specific" | "generic" | "decoy"
    added: tuple[str, ...]
    removed: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)  # values on added lines: must be found
    planted: tuple[str, ...] = field(default=(), repr=False)  # every generated value: must never leak

    @property
    def is_credential(self) -> bool:
        return self.kind != "decoy"

    def diff(self) -> str:
        """A unified diff adding this file's lines (context lines first, removed lines replaced)."""
        old = [*self.context, *self.removed]
        new = [*self.context, *self.added]
        head = f"diff --git a/{self.path} b/{self.path}\n--- a/{self.path}\n+++ b/{self.path}\n"
        hunk = f"@@ -{1 if old else 0},{len(old)} +1,{len(new)} @@\n"
        body = (
            [f" {c}" for c in self.context] + [f"-{r}" for r in self.removed] + [f"+{a}" for a in self.added]
        )
        return head + hunk + "\n".join(body) + "\n"


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def cases(seed: int = 16) -> list[Case]:
    """The corpus for `seed`: every credential template filled with freshly drawn values."""
    spec = yaml.safe_load(CASES_FILE.read_text())
    rng = random.Random(seed)
    out: list[Case] = []
    for entry in spec["cases"]:
        values = {name: GENERATORS[name](rng) for name in entry.get("values", [])}
        # Identifiers drawn like credentials but public by design (a Twilio account SID is a user name).
        values.update({name: GENERATORS[name](rng) for name in entry.get("public", [])})
        lines = [line for text in entry.get("added", []) for line in _fill(text, values).split("\n")]
        removed = [line for text in entry.get("removed", []) for line in _fill(text, values).split("\n")]
        context = [line for text in entry.get("context", []) for line in _fill(text, values).split("\n")]
        added_text = "\n".join(lines)
        # Must be found: the values on added lines of a credential case. Must never leak: every value.
        public = set(entry.get("public", []))
        secret_values = [v for name, v in values.items() if name not in public]
        secrets = tuple(
            _secret_parts(v) for v in secret_values if entry["kind"] != "decoy" and v in added_text
        )
        planted = tuple(_secret_parts(v) for v in secret_values)
        out.append(
            Case(
                entry["id"],
                entry["path"],
                entry.get("provider", "decoy"),
                entry["kind"],
                tuple(lines),
                tuple(removed),
                tuple(context),
                secrets,
                planted,
            )
        )
    return out


def _secret_parts(value: str) -> str:
    """The part of a planted value that must never appear: a PEM's body lines, otherwise the value."""
    if "-----BEGIN" in value:
        sep = "\\n" if "\\n" in value else "\n"
        return sep.join(part for part in value.split(sep) if part and not part.startswith("-----"))
    return value


def leaked(text: str, case: Case) -> list[str]:
    """Planted values (or any 12-character piece of one, or one PEM body line) that appear in `text`."""
    found = []
    for secret in case.planted:
        pieces = secret.replace("\\n", "\n").split("\n")
        for piece in pieces:
            probes = (
                [piece[i : i + 12] for i in range(0, max(1, len(piece) - 11), 6)]
                if len(piece) > 12
                else [piece]
            )
            if any(p and p in text for p in probes):
                found.append(piece[:4] + "…")
                break
    return found
