"""The App manifest covers every GitHub call the client makes and every event the router handles, and no more."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import reviewops.github.client as client_module
from reviewops.github import manifest

ROOT = Path(__file__).resolve().parents[3]
SPEC = json.loads((ROOT / "tests/fixtures/github-rest/openapi-subset.json").read_text())


def client_calls() -> set[str]:
    """'METHOD /template' of every request in reviewops/github/client.py, read from its source."""
    tree = ast.parse(Path(client_module.__file__).read_text())
    templates = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("T_") and isinstance(node.value, ast.Constant)
    }  # fmt: skip
    calls: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args = node.args
        name = node.func.attr
        if name in ("_call", "request") and len(args) >= 2 and getattr(args[1], "id", "") in templates:
            assert isinstance(args[0], ast.Constant), ast.unparse(node)
            calls.add(f"{args[0].value} {templates[args[1].id]}")  # type: ignore[attr-defined]
            used.add(args[1].id)  # type: ignore[attr-defined]
        elif name in ("_list", "paginate") and args and getattr(args[0], "id", "") in templates:
            calls.add(f"GET {templates[args[0].id]}")  # type: ignore[attr-defined]
            used.add(args[0].id)  # type: ignore[attr-defined]
    assert used == set(templates), f"templates the scan did not see called: {set(templates) - used}"
    return calls


def test_the_scan_finds_the_clients_calls() -> None:
    calls = client_calls()
    assert "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews" in calls
    assert "GET /app" in calls
    assert len(calls) >= 15


def test_every_client_call_is_in_githubs_description_and_has_a_known_permission() -> None:
    for call in client_calls():
        method, path = call.split(" ", 1)
        assert method.lower() in SPEC["paths"].get(path, {}), f"{call} is not in GitHub's REST description"
        assert call in manifest.ENDPOINT_PERMISSION, f"{call}: say which permission it needs in manifest.py"


def test_the_permissions_cover_every_call_and_every_event() -> None:
    needs = [manifest.ENDPOINT_PERMISSION[c] for c in client_calls()]
    needs += [manifest.EVENT_PERMISSION[e] for e in manifest.subscribed_events()]
    for need in needs:
        if need is not None:
            perm, level = need
            assert manifest.level_covers(manifest.PERMISSIONS.get(perm), level), f"{perm}: {level} missing"


def test_the_permissions_are_least_privilege() -> None:
    """Each permission at its level is needed by some call or event; one level lower would not do."""
    needs = [manifest.ENDPOINT_PERMISSION[c] for c in client_calls()]
    needs += [manifest.EVENT_PERMISSION[e] for e in manifest.subscribed_events()]
    needed: dict[str, str] = {"metadata": "read"}  # GitHub gives every App metadata: read
    for need in needs:
        if need is not None:
            perm, level = need
            if manifest.LEVELS.index(level) > manifest.LEVELS.index(needed.get(perm, "none")):
                needed[perm] = level
    assert needed == manifest.PERMISSIONS
    assert set(manifest.PERMISSION_REASONS) == set(manifest.PERMISSIONS)


def test_the_manifest_subscribes_to_every_event_the_router_handles() -> None:
    from reviewops.deliveries.routing import ROUTES

    assert sorted(ROUTES) == manifest.handled_events(), (
        "manifest.HANDLED_EVENTS must list the router's events"
    )
    built = manifest.build_manifest("https://reviews.example.com")
    for event in ROUTES:
        assert event in built["default_events"] or event in manifest.ALWAYS_DELIVERED, event
    assert "issue_comment" in built["default_events"]
    assert "pull_request" in built["default_events"]
    assert not set(built["default_events"]) & manifest.ALWAYS_DELIVERED


def test_the_manifest_points_github_at_this_deployment() -> None:
    built = manifest.build_manifest("https://reviews.example.com/", name="Acme review")
    assert built["hook_attributes"] == {"url": "https://reviews.example.com/webhooks/github", "active": True}
    assert built["redirect_url"] == "https://reviews.example.com/github-app/callback"
    assert built["name"] == "Acme review" and built["public"] is False
    assert built["default_permissions"] == manifest.PERMISSIONS
    with pytest.raises(ValueError, match="https://"):
        manifest.build_manifest("reviews.example.com")


def test_missing_permissions_compares_levels() -> None:
    granted = {**manifest.PERMISSIONS, "pull_requests": "read", "checks": "admin"}
    del granted["contents"]
    assert manifest.missing_permissions(granted) == {"pull_requests": "write", "contents": "read"}
    assert manifest.missing_permissions(dict(manifest.PERMISSIONS)) == {}


@pytest.mark.parametrize("readme", ["README.md", "charts/reviewops/README.md"])
def test_the_readme_table_is_generated_from_the_manifest(readme: str) -> None:
    text = (ROOT / readme).read_text()
    found = re.search(
        r"<!-- github-app-table:start -->\n(.*?)\n<!-- github-app-table:end -->", text, flags=re.DOTALL
    )
    assert found, f"{readme}: the generated table's markers are missing"
    assert found.group(1).strip() == manifest.markdown_table(), (
        f"{readme}: regenerate the table with `reviewops github-app manifest --table`"
    )
