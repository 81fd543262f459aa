"""One review, end to end: claim → fetch → analyse → post → record, around one claimed review.

Idempotent by review id: every GitHub object created is saved on the review row at once (check_run_id,
github_review_id or summary_comment_id; see reviewops.reviews.posting), and a retry reuses what exists, so a
crash never double-posts. A newer head of the same PR supersedes this review (checked when it is claimed,
when the head is fetched and right before posting).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import AnalysisContext, ChangedFile, RepoConfig, Severity
from reviewops.db.models import ReviewStatus
from reviewops.db.session import Database
from reviewops.errors import PermanentError
from reviewops.github.client import GitHubApp, InstallationClient
from reviewops.github.transport import NotFound
from reviewops.ratelimit.limits import default_limits
from reviewops.ratelimit.reviews import NOTES_KEY
from reviewops.ratelimit.tokens import llm_allowed, record_tokens
from reviewops.reviews import store
from reviewops.reviews.engine import EngineResult, ReviewDeps
from reviewops.reviews.posting import post_review
from reviewops.reviews.render import fingerprint_in
from reviewops.reviews.selection import select_for_posting
from reviewops.reviews.settings import for_tenant, read_policy
from reviewops.reviews.store import ClaimedReview
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from reviewops.telemetry.tracing import tracer

log = logging.getLogger(__name__)

CONFIG_PATH = ".reviewops.yaml"
MAX_INLINE_COMMENTS = 30


@dataclass
class Fetched:
    """The pull request as GitHub shows it now: the PR object, its files and the base's `.reviewops.yaml`."""

    pr: dict[str, Any]
    files: list[ChangedFile]
    config: RepoConfig
    timings: dict[str, float] = field(default_factory=dict)


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
            store.finish(self.db, review_id, ReviewStatus.FAILED, str(exc)[:2000])
            metrics.REVIEW_DURATION_SECONDS.labels(ReviewStatus.FAILED).observe(time.perf_counter() - started)
            raise
        metrics.REVIEW_DURATION_SECONDS.labels(status).observe(time.perf_counter() - started)
        return status

    def _run(self, review_id: int) -> str:
        with tracer().start_as_current_span("db.claim_review"):
            claimed = store.claim(self.db, review_id)
        if not isinstance(claimed, ClaimedReview):
            return claimed
        gh = self.github.installation(claimed.installation_id)
        t0 = time.perf_counter()
        with tracer().start_as_current_span("github.fetch_pr") as span:
            fetched = self._fetch(gh, claimed)
            if fetched is None:
                return ReviewStatus.SUPERSEDED
            span.set_attribute("reviewops.files", len(fetched.files))
        fetched.timings["fetch_seconds"] = time.perf_counter() - t0
        return self._analyse_post_record(gh, claimed, fetched)

    def _fetch(self, gh: InstallationClient, claimed: ClaimedReview) -> Fetched | None:
        """The PR, its files and its base's config; None when its head moved on (review superseded)."""
        review = claimed.review
        try:
            pr = gh.get_pull(review.repository, review.pr_number)
        except NotFound as exc:
            raise PermanentError(f"pull request {review.repository}#{review.pr_number} is gone") from exc
        head = str(pr["head"]["sha"])
        if not review.head_sha:
            # A /review command does not know the head: review whatever the PR's head is now.
            review.head_sha = head
            store.save(self.db, review.id, head_sha=head)
        if head != review.head_sha:
            store.finish(self.db, review.id, ReviewStatus.SUPERSEDED, f"PR head moved to {head[:12]}")
            return None
        files = [self.deps.parse_file(f) for f in gh.list_pull_files(review.repository, review.pr_number)]
        # `.reviewops.yaml` from the base branch, never the head: a PR cannot change its own rules.
        text = gh.get_file_text(review.repository, CONFIG_PATH, pr["base"]["ref"])
        return Fetched(pr, files, self.deps.parse_config(text) if text else RepoConfig())

    def _analyse_post_record(self, gh: InstallationClient, claimed: ClaimedReview, fetched: Fetched) -> str:
        review, timings = claimed.review, fetched.timings
        # The policy is read once per review: analyzers and threshold come from the same read.
        settings = for_tenant(
            read_policy(self.redis), claimed.tenant_settings,
            default_threshold=self.settings.review_severity_threshold,
        )  # fmt: skip
        ctx = self._context(gh, claimed, fetched, settings.analyzers)
        ctx.notes.extend(_file_notes(fetched.pr, fetched.files))
        t1 = time.perf_counter()
        with tracer().start_as_current_span("review.engine") as span:
            result = self.deps.engine(ctx)
            span.set_attribute("reviewops.findings", len(result.findings))
        timings["engine_seconds"] = time.perf_counter() - t1
        timings.update({k: float(v) for k, v in (result.timings or {}).items()})
        notes = list(dict.fromkeys([*ctx.notes, *result.notes]))

        history = store.history(self.db, review)
        if history.superseded:
            return ReviewStatus.SUPERSEDED
        threshold = fetched.config.severity_threshold or _threshold(settings.severity_threshold)
        max_comments = min(MAX_INLINE_COMMENTS, fetched.config.max_comments or MAX_INLINE_COMMENTS)
        t2 = time.perf_counter()
        with tracer().start_as_current_span("github.post") as span:
            already = history.posted_fingerprints
            if not history.full:
                # What the PR itself shows (each inline comment's marker): after a database restore, or
                # any loss of finding rows, a review that runs again posts nothing that is already there.
                already = already | on_pull_request(gh, review.repository, review.pr_number)
            sel = select_for_posting(
                list(result.findings), {f.path: f for f in fetched.files},
                threshold=threshold, already_posted=already, max_comments=max(0, max_comments),
                suppressed=history.suppressed,
            )  # fmt: skip
            span.set_attributes(
                {"reviewops.inline": len(sel.inline), "reviewops.annotations": len(sel.overflow)}
            )
            post_review(self.db, gh, review, sel, notes, threshold, result.qa_checklist, history.summary)
        timings["post_seconds"] = time.perf_counter() - t2
        with tracer().start_as_current_span("db.store_review"):
            store.complete(self.db, review.id, sel, result.usage, timings, notes)
        self._count_tokens(claimed, result)
        log.info("review %s completed: %s findings, %s posted", review.id, len(sel.findings), len(sel.posted))
        return ReviewStatus.COMPLETED

    def _context(
        self, gh: InstallationClient, claimed: ClaimedReview, fetched: Fetched, analyzers: dict[str, bool]
    ) -> AnalysisContext:
        review = claimed.review
        cache: dict[str, str | None] = {}

        def read_head(path: str) -> str | None:
            if path not in cache:
                cache[path] = gh.get_file_text(review.repository, path, review.head_sha)
            return cache[path]

        # The linters' base: changed files' previous content and the repository's linter configuration,
        # from the contents API at the PR's base commit (the same for every push of the review).
        base_sha = str((fetched.pr.get("base") or {}).get("sha") or "")
        base_cache: dict[str, str | None] = {}

        def read_base(path: str) -> str | None:
            if path not in base_cache:
                base_cache[path] = gh.get_file_text(review.repository, path, base_sha)
            return base_cache[path]

        # Notes recorded with the review (e.g. the rate-limit delay, see reviewops.ratelimit.reviews).
        notes = [str(note) for note in (review.timings or {}).get(NOTES_KEY, [])]
        # Invalid `.reviewops.yaml` fields are named in the notes by the engine itself (run_review).
        allowed = self._llm_allowed(claimed.installation_id, notes)
        llm = LLMSettings.from_settings(self.settings)
        return AnalysisContext(
            files=fetched.files, title=str(fetched.pr.get("title") or ""), body=str(fetched.pr.get("body") or ""),
            config=fetched.config, read_head=read_head, read_base=read_base if base_sha else None,
            llm_allowed=allowed, notes=notes,
            repository=review.repository, head_sha=review.head_sha, enabled_analyzers=analyzers,
            llm=llm if llm.configured else None,
        )  # fmt: skip

    def _llm_allowed(self, installation_id: int, notes: list[str]) -> bool:
        """The tenant's daily token budget (live limits, Redis counter); over it, deterministic checks only."""
        if self.redis is None:
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

    def _count_tokens(self, claimed: ClaimedReview, result: EngineResult) -> None:
        usage = result.usage
        if self.redis is not None and (usage.prompt_tokens or usage.completion_tokens):
            record_tokens(self.redis, claimed.installation_id, usage.prompt_tokens, usage.completion_tokens)


def on_pull_request(gh: InstallationClient, repository: str, pr_number: int) -> set[str]:
    """Fingerprints of the findings ReviewOps comments already show on the pull request."""
    found = (fingerprint_in(str(c.get("body") or "")) for c in gh.list_review_comments(repository, pr_number))
    return {fingerprint for fingerprint in found if fingerprint is not None}


def _threshold(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError:
        return Severity.WARNING


def _file_notes(pr: dict[str, Any], files: list[ChangedFile]) -> list[str]:
    notes = []
    listed_only = [f.path for f in files if f.patch is None and f.status != "removed"]
    if listed_only:
        notes.append(f"{len(listed_only)} file(s) without a diff (binary or too large) listed, not analyzed.")
    total = int(pr.get("changed_files") or len(files))
    if total > len(files):
        notes.append(f"Only the first {len(files)} of {total} changed files were reviewed (GitHub's limit).")
    return notes
