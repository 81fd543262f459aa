"""A disaster-recovery rehearsal anyone can run: `scripts/dr-drill [--before N] [--after N]`.

Throw-away PostgreSQL and Redis, the real API (uvicorn) and a real worker, a local GitHub-compatible
server (the tests' fake GitHub, which validates every request against GitHub's REST description and here
also redelivers webhooks as GitHub does). Then: send deliveries, take a backup (`pg_dump -Fc`), send more,
destroy the database and Redis, restore the backup (`pg_restore`), start again, run
`reviewops deliveries recover --after-restore`, and count. Ends with one line:

    sent N, stored after restore N, reviews posted twice 0, lost 0

and exits 0 only when nothing is lost and nothing is posted twice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from reviewops import redis_client  # noqa: E402
from reviewops.db.migrate import upgrade  # noqa: E402
from reviewops.db.models import Review, WebhookDelivery  # noqa: E402
from reviewops.db.session import Database  # noqa: E402
from reviewops.deliveries.redelivery import run_recovery  # noqa: E402
from reviewops.github.client import GitHubApp  # noqa: E402
from reviewops.queue.broker import build_broker  # noqa: E402
from reviewops.reviews.render import SUMMARY_MARKER, fingerprint_in  # noqa: E402
from reviewops.settings import Settings  # noqa: E402
from tests.support.fake_github import FakeGitHub  # noqa: E402
from tests.support.github_app import generate_key_pair  # noqa: E402
from tests.support.servers import RedisServer, _pg_bin, free_port, postgres_server, wait_for_port  # noqa: E402
from tests.support.webhooks import SECRET, load_payload, signed_request  # noqa: E402

REPO = "drill/service"
INSTALLATION = 9001
LINES = ["import os", "breakpoint()", "VALUE = 1"]  # one warning (debug-breakpoint): one inline comment
PATCH = f"@@ -0,0 +1,{len(LINES)} @@\n" + "\n".join("+" + line for line in LINES)


class RedeliveringGitHub(FakeGitHub):
    """The fake GitHub, plus what GitHub does on `POST /app/hook/deliveries/{id}/attempts`: send the
    delivery's webhook again, signed, to the App's webhook URL."""

    def __init__(self, webhook_url: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.webhook_url = webhook_url
        self.bodies: dict[int, tuple[str, bytes]] = {}  # delivery id -> (event, body)

    def record(self, event: str, body: bytes, guid: str, status_code: int) -> None:
        item = self.add_delivery(guid=guid, event=event, action="opened", status_code=status_code,
                                 installation_id=INSTALLATION)  # fmt: skip
        self.bodies[int(item["id"])] = (event, body)

    def _dispatch(self, method: str, template: str, params: dict[str, str], query: dict[str, str],
                  data: Any) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        answer = super()._dispatch(method, template, params, query, data)
        if template == "/app/hook/deliveries/{delivery_id}/attempts":
            event, body = self.bodies[int(params["delivery_id"])]
            guid = next(d["guid"] for d in self.deliveries if d["id"] == int(params["delivery_id"]))
            threading.Thread(target=self._send, args=(event, body, guid), daemon=True).start()
        return answer

    def _send(self, event: str, body: bytes, guid: str) -> None:
        _, headers = signed_request(event, body, guid=guid)
        httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)


class Service:
    """The API (uvicorn, real HTTP) and one worker process's worth of dramatiq threads, in this process."""

    def __init__(self, settings: Settings, port: int) -> None:
        from api.main import create_app
        from worker.main import start_worker

        self.db = Database(settings.database_url)
        self.broker = build_broker(settings.redis_url)
        self.worker = start_worker(self.broker, settings, self.db, threads=4)
        config = uvicorn.Config(create_app(settings, db=self.db, broker=self.broker), host="127.0.0.1",
                                port=port, log_level="warning", lifespan="on")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_port(port)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.worker.stop(timeout=10_000)
        self.broker.close()
        self.db.dispose()


def wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"dr-drill: timed out waiting for {what}")
        time.sleep(0.2)


def send(github: RedeliveringGitHub, url: str, number: int) -> str:
    """One pull request opened: seeded on GitHub, delivered to the API and recorded in GitHub's log."""
    head = f"{number:040x}"
    github.add_pull(REPO, number, head_sha=head, files=[{"filename": f"m{number}.py", "status": "added",
                                                         "patch": PATCH}])  # fmt: skip
    payload = load_payload("pull_request/opened.payload.json")
    payload["installation"] = {"id": INSTALLATION}
    payload["repository"]["full_name"] = REPO
    payload["number"] = number
    payload["pull_request"].update(number=number, draft=False)
    payload["pull_request"]["head"]["sha"] = head
    body, headers = signed_request("pull_request", payload)
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    github.record("pull_request", body, headers["X-GitHub-Delivery"], answer.status_code)
    return headers["X-GitHub-Delivery"]


def processed(db: Database, guids: list[str]) -> bool:
    with db.session() as s:
        done = s.execute(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(
                WebhookDelivery.delivery_guid.in_(guids), WebhookDelivery.status.in_(["processed", "ignored"])
            )
        ).scalar_one()
        pending = s.execute(
            select(func.count())
            .select_from(Review)
            .where(Review.status.in_(["pending", "running", "delayed"]))
        ).scalar_one()
    return int(done) == len(guids) and int(pending) == 0


def posted_twice(github: FakeGitHub) -> int:
    """Findings shown twice on one PR (same fingerprint in two inline comments), and PRs with two
    summaries: what a user would see as a review posted twice."""
    repo = github.repos[REPO]
    twice = 0
    for comments in repo.review_comments.values():
        counts = Counter(fingerprint_in(str(c["body"])) for c in comments)
        twice += sum(n - 1 for fp, n in counts.items() if fp is not None and n > 1)
    # The summary lives in a PR review's body (or, from older releases, an issue comment): one per PR.
    for number in set(repo.issue_comments) | set(repo.reviews):
        bodies = [*repo.issue_comments.get(number, []), *repo.reviews.get(number, [])]
        twice += max(0, sum(SUMMARY_MARKER in str(c.get("body") or "") for c in bodies) - 1)
    return twice


def psql(url: str, sql: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def run(before: int, after: int) -> int:
    private_key, public_key = generate_key_pair()
    with postgres_server() as admin_url:
        psql(admin_url, "CREATE DATABASE reviewops")
        database_url = admin_url.rsplit("/", 1)[0] + "/reviewops"
        libpq = database_url.replace("postgresql+psycopg://", "postgresql://")
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        redis = RedisServer()
        redis.start()
        port = free_port()
        github = RedeliveringGitHub(f"http://127.0.0.1:{port}/webhooks/github", app_id=4242,
                                    public_key_pem=public_key)  # fmt: skip
        settings = Settings(
            database_url=database_url, redis_url=redis.url, webhook_secrets=[SecretStr(SECRET)],
            admin_token=SecretStr("drill-admin"), github_app_id=4242,
            github_private_key=SecretStr(private_key), github_api_url=github.url,
        )  # fmt: skip
        dump_dir = Path(tempfile.mkdtemp(prefix="reviewops-drill-"))
        if as_postgres:
            shutil.chown(dump_dir, "postgres")
        backup = str(dump_dir / "reviewops.dump")
        try:
            upgrade(database_url)
            service = Service(settings, port)
            url = f"http://127.0.0.1:{port}/webhooks/github"
            first = [send(github, url, n) for n in range(1, before + 1)]
            wait("the first deliveries", lambda: processed(service.db, first), 180)
            subprocess.run([*as_postgres, _pg_bin("pg_dump"), "-Fc", "-f", backup, libpq],
                           check=True, capture_output=True)  # fmt: skip
            print(f"backup taken after {before} deliveries", flush=True)
            second = [send(github, url, n) for n in range(before + 1, before + after + 1)]
            wait("the deliveries after the backup", lambda: processed(service.db, second), 180)
            reviews_before = sum(map(len, github.repos[REPO].reviews.values()))
            service.stop()

            # The disaster: the database and Redis are gone.
            psql(admin_url, "DROP DATABASE reviewops WITH (FORCE)")
            flush = redis_client.connect(redis.url)
            flush.flushall()
            flush.close()
            started = time.monotonic()
            psql(admin_url, "CREATE DATABASE reviewops")
            subprocess.run([*as_postgres, _pg_bin("pg_restore"), "-d", libpq, backup],
                           check=True, capture_output=True)  # fmt: skip
            upgrade(database_url)  # a no-op at the same release; the backup may be older
            service = Service(settings, port)
            # Live traffic goes on while recovery runs: a new pull request first, so ids of re-run reviews
            # differ from the lost ones (nothing may rely on the restored sequences repeating themselves).
            live = [send(github, url, before + after + 1)]
            app = GitHubApp.from_settings(settings)
            result = run_recovery(service.db, app, after_restore=True, per_minute=80,
                                  max_redeliveries=10_000, progress=None)  # fmt: skip
            app.close()
            everything = first + second + live
            wait("the recovered deliveries", lambda: processed(service.db, everything), 300)
            recovery_seconds = time.monotonic() - started
            with service.db.session() as s:
                stored = s.execute(
                    select(func.count(func.distinct(WebhookDelivery.delivery_guid))).where(
                        WebhookDelivery.delivery_guid.in_(everything)
                    )
                ).scalar_one()
            service.stop()
            twice = posted_twice(github)
            lost = len(everything) - int(stored)
            new_reviews = sum(map(len, github.repos[REPO].reviews.values())) - reviews_before
            print(
                f"recovery: {len(result.redelivered)} redelivered in {recovery_seconds:.1f}s after the restore; "
                f"{new_reviews} new GitHub reviews",
                flush=True,
            )
            if github.violations:
                print("GitHub API contract violations:\n" + "\n".join(github.violations), flush=True)
            print(
                f"sent {len(everything)}, stored after restore {stored}, reviews posted twice {twice}, lost {lost}"
            )
            return 0 if lost == 0 and twice == 0 and not github.violations else 1
        finally:
            github.close()
            redis.close()
            shutil.rmtree(dump_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=int, default=6, help="deliveries sent before the backup")
    parser.add_argument(
        "--after", type=int, default=6, help="deliveries sent after the backup (lost, then recovered)"
    )
    args = parser.parse_args()
    if args.before < 1 or args.after < 1:
        parser.error("--before and --after must be at least 1")
    raise SystemExit(run(args.before, args.after))


if __name__ == "__main__":
    main()
