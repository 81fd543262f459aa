"""The commands the manifest flow's callback page prints give the chart what it needs (rendered, not guessed)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from api.routers.github_app import secret_commands
from tests.charts.chart import CHART_DIR, chart, render

CREATED = {"id": 987654, "pem": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n",
           "webhook_secret": "s3cr3t'with quote"}  # fmt: skip


def shell_words(script: str) -> list[str]:
    """The script's words outside the heredoc, continuation lines joined."""
    without_heredoc = re.sub(r"<<'EOF'\n.*?\nEOF\n", "", script, flags=re.DOTALL)
    return shlex.split(without_heredoc.replace("\\\n", " "), comments=True)


def helm_values(words: list[str], files: dict[str, str]) -> dict[str, Any]:
    """What `helm upgrade ... --set/--set-string/--set-file` sets, as a values tree."""
    values: dict[str, Any] = {}
    start = words.index("upgrade")
    for flag, assignment in zip(words[start:], words[start + 1 :], strict=False):
        if flag not in ("--set", "--set-string", "--set-file"):
            continue
        key, _, value = assignment.partition("=")
        node = values
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        leaf: Any = files[value] if flag == "--set-file" else value
        if flag == "--set" and value.isdigit():
            leaf = int(value)
        name, index = re.fullmatch(r"([^\[]+)(?:\[(\d+)\])?", parts[-1]).groups()  # type: ignore[union-attr]
        node[name] = [leaf] if index is not None else leaf
    return values


def test_the_chart_managed_secret_gets_the_apps_id_key_and_webhook_secret() -> None:
    managed, _ = secret_commands(CREATED)
    values = helm_values(shell_words(managed), {"reviewops-github-app.pem": CREATED["pem"]})
    chart().validate_schema(values)
    rendered = render(values)
    data = rendered.one("Secret", "reviewops-secrets")["stringData"]
    assert data["github-private-key"] == CREATED["pem"]
    assert data["webhook-secrets"] == CREATED["webhook_secret"]
    assert rendered.one("ConfigMap", "reviewops-config")["data"]["REVIEWOPS_GITHUB_APP_ID"] == "987654"


def test_your_own_secret_gets_every_key_the_chart_reads() -> None:
    _, own = secret_commands(CREATED)
    words = shell_words(own)
    sources = [re.match(r"--from-(?:literal|file)=([^=]+)=", w) for w in words if w.startswith("--from-")]
    keys = {m.group(1) for m in sources if m}
    readme = (CHART_DIR / "README.md").read_text()
    needed = set(re.findall(r"^\| `([a-z-]+)` \| ", readme.split("The Secret needs these keys", 1)[1], re.M))
    assert needed and keys == needed
    values = helm_values(words, {})
    values["secrets"]["existingSecret"] = "reviewops-mine"  # what "$SECRET" expands to
    chart().validate_schema(values)
    rendered = render(values)
    assert rendered.of_kind("Secret") == [] or all(
        s["metadata"]["name"] != "reviewops-secrets" for s in rendered.of_kind("Secret")
    )
    worker = rendered.one("Deployment", "reviewops-worker")["spec"]["template"]["spec"]
    (key_volume,) = [v for v in worker["volumes"] if v["name"] == "github-app-key"]
    assert key_volume["secret"]["secretName"] == "reviewops-mine"
