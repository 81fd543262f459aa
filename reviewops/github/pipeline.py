"""One review, end to end: fetch the PR, run the engine, post one review + check run + summary, store it.

Idempotent by review id: every GitHub object created is saved on the review row at once (check_run_id,
github_review_id, summary_comment_id), and a retry reuses what exists, so a crash never double-posts.
A newer head of the same PR supersedes this review (checked before running and before posting).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import select

from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, ChangedFile, RepoConfig, Severity
from reviewops.db.models import Repository, Review, ReviewStatus, Tenant, TenantStatus
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.errors import PermanentError
from reviewops.github import render, store
from reviewops.github.client import GitHubApp, InstallationClient
from reviewops.github.deps import EngineResult, ReviewDeps
from reviewops.github.selection import Selection, select_for_posting
from reviewops.github.transport import NotFound
from reviewops.pipeline.review_settings import read_policy
from reviewops.policy.store import ReviewSettings
from reviewops.ratelimit.limits import default_limits
from reviewops.ratelimit.reviews import NOTES_KEY
from reviewops.ratelimit.tokens import llm_allowed, record_tokens
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from reviewops.telemetry.tracing import tracer
from reviewops.tenancy.flags import effective_analyzers
from reviewops.tenancy.usage import add_usage

log = logging.getLogger(__name__)

CONFIG_PATH = ".reviewops.yaml"
MAX_INLINE_COMMENTS = 30
FULL_REVIEW_TRIGGER = "command:review-full"  # set by reviewops.pipeline.handlers.comments
FINISHED = frozenset(
    {ReviewStatus.COMPLETED.value, ReviewStatus.SKIPPED.value, ReviewStatus.SUPERSEDED.value,
     ReviewStatus.CANCELLED.value, ReviewStatus.FAILED.value}
)  # fmt: skip


class ReviewRunner:
    """Runs reviews by id; one per worker process, shared by its threads."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        github: GitHubApp,
        deps: ReviewDeps | Callable[[], ReviewDeps],
        redis_client: redis.Redis | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.github = github
        self._deps = deps
        self.redis = redis_client

    @property
    def deps(self) -> ReviewDeps:
        if callable(self._deps):
            try:
                self._deps = self._deps()
            except RuntimeError as exc:
                raise PermanentError(str(exc)) from exc
        return self._deps

    def __call__(self, review_id: int) -> str:
        return self.run(review_id)

    def run(self, review_id: int) -> str:
        started = time.perf_counter()
        try:
            with tracer().start_as_current_span(
                "review", attributes={"reviewops.review_id": review_id}
            ) as span:
                status = self._run(review_id)
                span.set_attribute("reviewops.review_status", status)
        except PermanentError as exc:
            # Retrying cannot help (PR gone, installation suspended): the review is over, say why.
            self._save(review_id, status=ReviewStatus.FAILED.value, status_reason=str(exc)[:2000],
                       finished_at=utcnow())  # fmt: skip
            metrics.REVIEW_DURATION_SECONDS.labels(ReviewStatus.FAILED.value).observe(
                time.perf_counter() - started
            )
            raise
        metrics.REVIEW_DURATION_SECONDS.labels(status).observe(time.perf_counter() - started)
        return status

    # --- steps ---

    def _claim(self, review_id: int) -> tuple[Review, int] | str:
        """Mark the review running, or say why it will not run (its final status)."""
        with self.db.session() as session:
            review = session.get(Review, review_id, with_for_update=True)
            if review is None:
                raise PermanentError(f"review {review_id} does not exist")
            if review.status in FINISHED:
                return review.status
            if store.newer_review(session, review) is not None:
                return self._finish(review, ReviewStatus.SUPERSEDED, "a newer push of the PR is queued")
            tenant = session.get(Tenant, review.tenant_id) if review.tenant_id else None
            if tenant is None:
                return self._finish(review, ReviewStatus.SKIPPED, "no GitHub App installation")
            if tenant.status != TenantStatus.ACTIVE.value:
                return self._finish(review, ReviewStatus.SKIPPED, f"installation {tenant.status}")
            repo = session.execute(
                select(Repository).where(
                    Repository.tenant_id == tenant.id, Repository.full_name == review.repository
                )
            ).scalar_one_or_none()
            if repo is not None and repo.paused:
                return self._finish(review, ReviewStatus.SKIPPED, "reviews paused for this repository")
            review.status = ReviewStatus.RUNNING.value
            review.started_at = review.started_at or utcnow()
            session.flush()
            session.expunge(review)
            return review, tenant.installation_id

    @staticmethod
    def _finish(review: Review, status: ReviewStatus, reason: str) -> str:
        review.status = status.value
        review.status_reason = reason
        review.finished_at = utcnow()
        return status.value

    def _save(self, review_id: int, **values: Any) -> None:
        with self.db.session() as session:
            row = session.get(Review, review_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    def _superseded_now(self, review_id: int) -> bool:
        with self.db.session() as session:
            review = session.get(Review, review_id)
            if review is None or store.newer_review(session, review) is None:
                return False
            self._finish(review, ReviewStatus.SUPERSEDED, "a newer push of the PR is queued")
            return True

    def _run(self, review_id: int) -> str:
        with tracer().start_as_current_span("db.claim_review"):
            claimed = self._claim(review_id)
        if isinstance(claimed, str):
            return claimed
        review, installation_id = claimed
        gh = self.github.installation(installation_id)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        with tracer().start_as_current_span("github.fetch_pr") as span:
            try:
                pr = gh.get_pull(review.repository, review.pr_number)
            except NotFound as exc:
                raise PermanentError(f"pull request {review.repository}#{review.pr_number} is gone") from exc
            if not review.head_sha:
                # A /review command does not know the head: review whatever the PR's head is now.
                review.head_sha = str(pr["head"]["sha"])
                self._save(review_id, head_sha=review.head_sha)
            if pr["head"]["sha"] != review.head_sha:
                with self.db.session() as session:
                    row = session.get(Review, review_id)
                    assert row is not None
                    return self._finish(
                        row, ReviewStatus.SUPERSEDED, f"PR head moved to {pr['head']['sha'][:12]}"
                    )
            raw_files = gh.list_pull_files(review.repository, review.pr_number)
            files = [self.deps.parse_file(f) for f in raw_files]
            config = self._repo_config(gh, review.repository, pr["base"]["ref"])
            span.set_attribute("reviewops.files", len(files))
        timings["fetch_seconds"] = time.perf_counter() - t0

        policy = read_policy(self.redis)  # once per review: analyzers and threshold come from the same read
        ctx = self._context(review, pr, files, config, gh, policy)
        ctx.notes.extend(_file_notes(pr, files))
        t1 = time.perf_counter()
        with tracer().start_as_current_span("review.engine") as span:
            result = self.deps.engine(ctx)
            span.set_attribute("reviewops.findings", len(result.findings))
        timings["engine_seconds"] = time.perf_counter() - t1
        timings.update({k: float(v) for k, v in (result.timings or {}).items()})
        notes = _dedupe([*ctx.notes, *result.notes])

        with self.db.session() as session:
            row = session.get(Review, review_id)
            assert row is not None
            # `/review full` posts everything again; other reviews only what earlier ones did not post.
            full = row.trigger == FULL_REVIEW_TRIGGER
            already = set() if full else store.posted_fingerprints(session, row)
            previous_summary = store.previous_summary_comment(session, row)
        threshold = config.severity_threshold or self._policy_threshold(policy)
        max_comments = min(MAX_INLINE_COMMENTS, config.max_comments or MAX_INLINE_COMMENTS)
        sel = select_for_posting(
            list(result.findings), {f.path: f for f in files},
            threshold=threshold, already_posted=already, max_comments=max(0, max_comments),
        )  # fmt: skip

        if self._superseded_now(review_id):
            return ReviewStatus.SUPERSEDED.value
        t2 = time.perf_counter()
        with tracer().start_as_current_span("github.post") as span:
            span.set_attributes(
                {"reviewops.inline": len(sel.inline), "reviewops.annotations": len(sel.overflow)}
            )
            self._post(gh, review, sel, notes, threshold, result, previous_summary)
        timings["post_seconds"] = time.perf_counter() - t2
        with tracer().start_as_current_span("db.store_review"):
            return self._complete(review, sel, result, timings, notes)

    def _repo_config(self, gh: InstallationClient, repo: str, base_ref: str) -> RepoConfig:
        """`.reviewops.yaml` from the base branch, never the head: a PR cannot change its own rules."""
        text = gh.get_file_text(repo, CONFIG_PATH, base_ref)
        return self.deps.parse_config(text) if text else RepoConfig()

    def _context(
        self, review: Review, pr: dict[str, Any], files: list[ChangedFile], config: RepoConfig,
        gh: InstallationClient, policy: ReviewSettings | None,
    ) -> AnalysisContext:  # fmt: skip
        cache: dict[str, str | None] = {}

        def read_head(path: str) -> str | None:
            if path not in cache:
                cache[path] = gh.get_file_text(review.repository, path, review.head_sha)
            return cache[path]

        # The linters' base: changed files' previous content and the repository's linter configuration,
        # from the contents API at the PR's base commit (the same for every push of the review).
        base_sha = str((pr.get("base") or {}).get("sha") or "")
        base_cache: dict[str, str | None] = {}

        def read_base(path: str) -> str | None:
            if path not in base_cache:
                base_cache[path] = gh.get_file_text(review.repository, path, base_sha)
            return base_cache[path]

        # Notes recorded with the review (e.g. the rate-limit delay, see reviewops.ratelimit.reviews).
        notes = [str(note) for note in (review.timings or {}).get(NOTES_KEY, [])]
        # Invalid `.reviewops.yaml` fields are named in the notes by the engine itself (run_review).
        llm_allowed = self._llm_allowed(review, notes)
        enabled = self._enabled_analyzers(review, policy)
        return AnalysisContext(
            files=files, title=str(pr.get("title") or ""), body=str(pr.get("body") or ""), config=config,
            read_head=read_head, read_base=read_base if base_sha else None, llm_allowed=llm_allowed, notes=notes,
            extras={"enabled_analyzers": enabled, "repository": review.repository,
                    "head_sha": review.head_sha, "llm": self._llm_settings()},
        )  # fmt: skip

    def _llm_settings(self) -> LLMSettings | None:
        llm = LLMSettings.from_settings(self.settings)
        return llm if llm.configured else None

    def _policy_threshold(self, policy: ReviewSettings | None) -> Severity:
        value = policy.severity_threshold if policy is not None else self.settings.review_severity_threshold
        try:
            return Severity.parse(value)
        except ValueError:
            return Severity.WARNING

    def _enabled_analyzers(self, review: Review, policy: ReviewSettings | None) -> dict[str, bool]:
        """The tenant's analyzer switches over the ReviewPolicy's (reviewops.tenancy.flags)."""
        with self.db.session() as session:
            tenant = session.get(Tenant, review.tenant_id) if review.tenant_id else None
            tenant_settings = tenant.settings if tenant else None
        return effective_analyzers(policy, tenant_settings)

    def _installation_id(self, tenant_id: int | None) -> int | None:
        if tenant_id is None:
            return None
        with self.db.session() as session:
            tenant = session.get(Tenant, tenant_id)
            return tenant.installation_id if tenant else None

    def _llm_allowed(self, review: Review, notes: list[str]) -> bool:
        """The tenant's daily token budget (live limits, Redis counter); over it, deterministic checks only."""
        installation_id = self._installation_id(review.tenant_id)
        if self.redis is None or installation_id is None:
            return True
        try:
            allowed = llm_allowed(self.redis, installation_id, default_limits(self.settings))
        except redis.RedisError:
            return True
        if not allowed:
            notes.append(
                "LLM review skipped: the daily LLM token budget is spent; deterministic checks only."
            )
        return allowed

    def _post(
        self, gh: InstallationClient, review: Review, sel: Selection, notes: list[str], threshold: Severity,
        result: EngineResult, previous_summary: int | None,
    ) -> None:  # fmt: skip
        repo, number, head = review.repository, review.pr_number, review.head_sha
        output = render.check_output(sel.in_diff, len(sel.posted), notes)
        check_run_id = review.check_run_id
        if check_run_id is None:
            run = gh.create_check_run(
                repo, name=render.CHECK_RUN_NAME, head_sha=head, status="in_progress",
                external_id=str(review.id), output=output,
            )  # fmt: skip
            check_run_id = int(run["id"])
            self._save(review.id, check_run_id=check_run_id)

        if sel.inline and review.github_review_id is None:
            marker = render.review_marker(review.id)
            existing = next(
                (r for r in gh.list_reviews(repo, number) if marker in (r.get("body") or "")), None
            )
            if existing is None:
                body = f"{marker}\nReviewOps found {len(sel.inline)} new issue(s) on this push."
                comments = [comment for _, comment in sel.inline]
                existing = gh.create_review(repo, number, commit_id=head, body=body, comments=comments)
            self._save(review.id, github_review_id=int(existing["id"]))
            metrics.REVIEW_COMMENTS_POSTED.labels("inline").inc(len(sel.inline))

        if sel.overflow:
            gh.add_annotations(repo, check_run_id, output, [render.annotation(f) for f in sel.overflow])
            metrics.REVIEW_COMMENTS_POSTED.labels("annotation").inc(len(sel.overflow))
        gh.update_check_run(
            repo, check_run_id, status="completed", conclusion=render.conclusion(sel.in_diff, threshold),
            completed_at=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), output=output,
        )  # fmt: skip

        body = render.summary_body(
            head_sha=head, findings=sel.in_diff, inline=len(sel.inline), annotations=len(sel.overflow),
            already_posted=sel.already_posted, below_threshold=sel.below_threshold, threshold=threshold,
            notes=notes, qa_checklist=getattr(result, "qa_checklist", None),
        )  # fmt: skip
        self._save(
            review.id, summary_comment_id=self._upsert_summary(gh, repo, number, body, previous_summary)
        )

    @staticmethod
    def _upsert_summary(gh: InstallationClient, repo: str, number: int, body: str, known: int | None) -> int:
        """Edit the PR's one summary comment in place; find it by its marker if we lost its id."""
        if known is not None:
            try:
                return int(gh.update_issue_comment(repo, known, body)["id"])
            except NotFound:
                pass  # deleted by someone: fall back to the marker search / a new comment
        found = gh.find_issue_comment(repo, number, render.SUMMARY_MARKER)
        if found is not None:
            return int(gh.update_issue_comment(repo, int(found["id"]), body)["id"])
        return int(gh.create_issue_comment(repo, number, body)["id"])

    def _complete(
        self,
        review: Review,
        sel: Selection,
        result: EngineResult,
        timings: dict[str, float],
        notes: list[str],
    ) -> str:
        with self.db.session() as session:
            row = session.get(Review, review.id)
            assert row is not None
            row.findings_count = store.store_findings(session, row, sel.findings, sel.posted)
            row.posted_count = len(sel.posted)
            row.llm_prompt_tokens = int(result.usage.prompt_tokens)
            row.llm_completion_tokens = int(result.usage.completion_tokens)
            # The notes stay with the review: the REST API shows them after the summary comment did.
            row.timings = {**{k: round(v, 4) for k, v in timings.items()}, NOTES_KEY: list(notes)}
            row.finished_at = utcnow()
            row.duration_seconds = (row.finished_at - (row.started_at or row.finished_at)).total_seconds()
            row.status = ReviewStatus.COMPLETED.value
            row.status_reason = None
            if row.tenant_id is not None:
                # The review itself was counted when it was recorded (see handlers.pull_request).
                add_usage(
                    session, row.tenant_id, prompt_tokens=row.llm_prompt_tokens,
                    completion_tokens=row.llm_completion_tokens,
                )  # fmt: skip
            tenant = session.get(Tenant, row.tenant_id) if row.tenant_id is not None else None
            installation_id = tenant.installation_id if tenant else None
        if (
            self.redis is not None
            and installation_id is not None
            and (result.usage.prompt_tokens or result.usage.completion_tokens)
        ):
            record_tokens(
                self.redis, installation_id, result.usage.prompt_tokens, result.usage.completion_tokens
            )
        log.info("review %s completed: %s findings, %s posted", review.id, len(sel.findings), len(sel.posted))
        return ReviewStatus.COMPLETED.value


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _file_notes(pr: dict[str, Any], files: list[ChangedFile]) -> list[str]:
    notes = []
    listed_only = [f.path for f in files if f.patch is None and f.status != "removed"]
    if listed_only:
        notes.append(f"{len(listed_only)} file(s) without a diff (binary or too large) listed, not analyzed.")
    total = int(pr.get("changed_files") or len(files))
    if total > len(files):
        notes.append(f"Only the first {len(files)} of {total} changed files were reviewed (GitHub's limit).")
    return notes
