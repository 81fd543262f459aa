"""Response objects for the fake GitHub, built from the examples in GitHub's own OpenAPI description.

Starting from GitHub's examples (then overriding the fields the fake tracks) keeps every required field
present; the fake still validates each response against the schema before sending it.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tests.support.webhooks import FIXTURES

SPEC_PATH = FIXTURES / "github-rest" / "openapi-subset.json"
BOT_LOGIN = "reviewops-test[bot]"


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


def example(name: str) -> Any:
    return copy.deepcopy(spec()["components"]["examples"][name]["value"])


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bot_user(login: str = BOT_LOGIN) -> dict[str, Any]:
    user: dict[str, Any] = example("issue-comment")["user"]
    user.update(login=login, type="Bot", id=424242, node_id="BOT_kgDOAAA")
    return user


def pull_request(repo: str, number: int, *, title: str, body: str, head_sha: str, head_ref: str,
                 base_ref: str, base_sha: str, state: str = "open") -> dict[str, Any]:  # fmt: skip
    pr: dict[str, Any] = example("pull-request")
    pr["requested_teams"] = []  # GitHub's own example lacks a required field here
    pr.update(number=number, title=title, body=body, state=state, draft=False)
    pr["url"] = f"https://api.github.com/repos/{repo}/pulls/{number}"
    pr["head"].update(sha=head_sha, ref=head_ref, label=f"{repo.split('/')[0]}:{head_ref}")
    pr["base"].update(sha=base_sha, ref=base_ref, label=f"{repo.split('/')[0]}:{base_ref}")
    for side in ("head", "base"):
        pr[side]["repo"]["full_name"] = repo
        pr[side]["repo"]["name"] = repo.split("/")[1]
    return pr


def diff_entry(file: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = example("diff-entry-items")[0]
    entry.pop("previous_filename", None)
    entry.update(
        filename=file["filename"],
        status=file.get("status", "modified"),
        additions=file.get("additions", 0),
        deletions=file.get("deletions", 0),
        changes=file.get("additions", 0) + file.get("deletions", 0),
    )
    if file.get("patch") is None:
        entry.pop("patch", None)
    else:
        entry["patch"] = file["patch"]
    if file.get("previous_filename"):
        entry["previous_filename"] = file["previous_filename"]
    return entry


def content_file(path: str, text: str) -> dict[str, Any]:
    item: dict[str, Any] = example("content-file-response-if-content-is-a-file")
    raw = text.encode()
    item.update(
        type="file", encoding="base64", size=len(raw), name=path.rsplit("/", 1)[-1], path=path,
        content=base64.encodebytes(raw).decode(),
    )  # fmt: skip
    return item


def review(
    review_id: int, repo: str, number: int, *, body: str, commit_id: str, state: str
) -> dict[str, Any]:
    item: dict[str, Any] = example("pull-request-review")
    item.update(id=review_id, body=body, commit_id=commit_id, state=state, submitted_at=now_iso(),
                user=bot_user(), author_association="NONE")  # fmt: skip
    item["pull_request_url"] = f"https://api.github.com/repos/{repo}/pulls/{number}"
    return item


def review_comment(comment_id: int, review_id: int, commit_id: str, c: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = example("pull-request-review-comment-items")[0]
    item.update(
        id=comment_id, pull_request_review_id=review_id, commit_id=commit_id, original_commit_id=commit_id,
        path=c["path"], body=c["body"], line=c.get("line"), original_line=c.get("line"),
        side=c.get("side", "RIGHT"), start_line=c.get("start_line"), original_start_line=c.get("start_line"),
        start_side=c.get("start_side") if c.get("start_line") else None, user=bot_user(),
    )  # fmt: skip
    return item


def issue_comment(comment_id: int, repo: str, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = example("issue-comment")
    item.update(id=comment_id, body=body, user=user, updated_at=now_iso())
    item["issue_url"] = f"https://api.github.com/repos/{repo}/issues/{number}"
    return item


def check_run(run: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = example("check-run")
    output = run.get("output") or {}
    item.update(
        id=run["id"], name=run["name"], head_sha=run["head_sha"], status=run["status"],
        conclusion=run.get("conclusion"), external_id=run.get("external_id", ""),
        completed_at=now_iso() if run["status"] == "completed" else None,
    )  # fmt: skip
    item["output"] = {
        "title": output.get("title"), "summary": output.get("summary"), "text": output.get("text"),
        "annotations_count": len(run["annotations"]), "annotations_url": item["output"]["annotations_url"],
    }  # fmt: skip
    return item


def reaction(reaction_id: int, content: str) -> dict[str, Any]:
    item: dict[str, Any] = example("reaction")
    item.update(id=reaction_id, content=content, user=bot_user())
    return item


def hook_delivery_item(d: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = example("hook-delivery-items")[0]
    item.update({k: v for k, v in d.items() if k in item})
    return item


def installation_token(token: str, expires_at: str) -> dict[str, Any]:
    item: dict[str, Any] = example("installation-token")
    item.update(token=token, expires_at=expires_at)
    item.pop("repositories", None)
    return item
