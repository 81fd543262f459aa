"""Retries by error class and durable dead letters, through real Redis, PostgreSQL and dramatiq workers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from sqlalchemy import select

from reviewops.db.models import DeadLetter, WebhookDelivery
from reviewops.db.session import Database
from reviewops.dlq.store import PENDING_KEY
from reviewops.queue.broker import enqueue_delivery
from reviewops.settings import Settings
from tests.support.faults import arm, done_key, fail_key, fault_router, make_delivery, running_worker
from tests.support.waiting import wait_until


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retry_max": 3, "maintenance_interval_seconds": 0.2})


@pytest.fixture
def fault_worker(
    broker: dramatiq.Broker, fast_settings: Settings, db: Database, redis_client: redis.Redis
) -> Iterator[dramatiq.Worker]:
    with running_worker(broker, fast_settings, db, fault_router(redis_client)) as w:
        yield w


def dead_letters(db: Database) -> list[DeadLetter]:
    with db.session() as s:
        return list(s.execute(select(DeadLetter).order_by(DeadLetter.id)).scalars())


def delivery(db: Database, delivery_id: int) -> WebhookDelivery:
    with db.session() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def test_transient_failure_is_retried_then_succeeds(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    from prometheus_client import REGISTRY

    def retries() -> float:
        labels = {"actor": "process_delivery", "error_type": "declared"}
        return REGISTRY.get_sample_value("reviewops_task_retries_total", labels) or 0.0

    before = retries()
    delivery_id = make_delivery(db, "transient")
    arm(redis_client, delivery_id, 2)
    enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "processed", what="processed")
    assert retries() - before == 2
    assert delivery(db, delivery_id).attempts == 3
    assert redis_client.get(done_key(delivery_id)) == b"1"
    assert dead_letters(db) == []


def test_permanent_failure_is_dead_lettered_at_once(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    delivery_id = make_delivery(db, "permanent")
    arm(redis_client, delivery_id, 5)
    message = enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    (letter,) = dead_letters(db)
    assert letter.message_id == message.message_id
    assert (letter.error_type, letter.error_class) == ("permanent", "reviewops.errors.PermanentError")
    assert letter.attempts == 1 and letter.delivery_id == delivery_id and letter.queue == "reviews"
    assert letter.actor == "process_delivery" and letter.args == [delivery_id]
    assert "is invalid" in letter.error_message and "PermanentError" in letter.traceback
    assert letter.replay_state == "pending"
    assert delivery(db, delivery_id).attempts == 1
    assert int(redis_client.get(fail_key(delivery_id)) or 0) == 4  # tried exactly once
    wait_until(lambda: redis_client.get(PENDING_KEY) == b"1", what="pending count published")


def test_exhausted_retries_dead_letter_as_transient_with_the_class(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    delivery_id = make_delivery(db, "keyerror", tenant_id=None)
    arm(redis_client, delivery_id, 100)
    enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    (letter,) = dead_letters(db)
    assert letter.error_type == "transient"  # unknown exceptions are retried, then dead-lettered
    assert letter.error_class == "KeyError"
    assert letter.attempts == 4  # 1 + retry_max(3)
    assert delivery(db, delivery_id).attempts == 4
    assert "retries" not in letter.options and "traceback" not in letter.options
    assert len(letter.traceback.splitlines()) <= 20


def test_retry_after_sets_the_delay_of_the_retry(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    delivery_id = make_delivery(db, "rate_limited")
    arm(redis_client, delivery_id, 1)
    enqueue_delivery(broker, delivery_id)

    def delayed() -> list[dict[str, object]]:
        return [json.loads(v) for v in redis_client.hvals("dramatiq:reviews.DQ.msgs")]

    (body,) = wait_until(delayed, what="a delayed retry")
    options = body["options"]
    assert isinstance(options, dict)
    # A rate limit with a known end is a deferral: it does not use up a retry.
    assert options["retries"] == 0 and options["deferrals"] == 1 and options["error_type"] == "transient"
    # max backoff is 0.2 s in these settings: only the rate limit's 300 s can explain this delay.
    assert 300_000 <= options["eta"] - options["requeue_timestamp"] < 301_000
    assert delivery(db, delivery_id).status == "failed"


def test_replayed_message_gets_its_full_retries_again(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    from reviewops.dlq import replay as service
    from reviewops.dlq.store import Filters

    delivery_id = make_delivery(db, "transient")
    arm(redis_client, delivery_id, 100)
    enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    (letter,) = dead_letters(db)
    assert letter.attempts == 4

    # As many failures as retry_max allows: survivable only if the replay reset the retry count.
    arm(redis_client, delivery_id, 3)
    result = service.replay(db, broker, Filters(), redis_client=redis_client)
    assert result.replayed == 1
    wait_until(lambda: delivery(db, delivery_id).status == "processed", what="processed after replay")
    (after,) = dead_letters(db)
    assert after.id == letter.id and after.replay_state == "replayed" and after.replay_count == 1
    assert after.attempts == 4  # never dead-lettered again
    assert delivery(db, delivery_id).attempts == 8
    assert redis_client.get(done_key(delivery_id)) == b"1"
    wait_until(lambda: redis_client.get(PENDING_KEY) == b"0", what="pending count back to 0")


def test_a_replay_that_fails_for_good_reopens_the_same_dead_letter(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    from reviewops.dlq import replay as service
    from reviewops.dlq.store import Filters

    delivery_id = make_delivery(db, "permanent")
    arm(redis_client, delivery_id, 2)
    enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    assert service.replay(db, broker, Filters()).replayed == 1
    wait_until(lambda: dead_letters(db)[0].replay_state == "pending", what="dead again")
    (letter,) = dead_letters(db)
    assert letter.attempts == 2 and letter.replay_count == 1 and letter.queue == "reviews.replay"
    assert delivery(db, delivery_id).status == "dead"


def test_the_review_policy_sets_retries_live(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    """The operator writes spec.retries to Redis; workers apply it to the next failure, over their settings."""
    from reviewops.policy import PolicySnapshot, RetrySettings, ReviewSettings, TenantLimits, write_policy

    write_policy(
        redis_client,
        PolicySnapshot(1, "ns/p", TenantLimits(), {}, ReviewSettings(), RetrySettings(max_retries=1)),
    )
    delivery_id = make_delivery(db, "keyerror", tenant_id=None)
    arm(redis_client, delivery_id, 100)
    enqueue_delivery(broker, delivery_id)
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    (letter,) = dead_letters(db)
    assert letter.attempts == 2  # 1 + the policy's maxRetries(1), not 1 + retry_max(3) from the settings


def test_a_message_for_an_unknown_actor_is_dead_lettered_not_dropped(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    """A message whose actor this worker does not have (an older or newer release sent it) fails for
    good: it lands in dead_letters, where it can be looked at and replayed after the rollout."""
    message = dramatiq.Message(
        queue_name="reviews", actor_name="renamed_actor", args=(7,), kwargs={}, options={}
    )
    broker.enqueue(message)
    wait_until(lambda: len(dead_letters(db)) == 1, what="dead letter for the unknown actor")
    (letter,) = dead_letters(db)
    assert (letter.actor, letter.args, letter.queue) == ("renamed_actor", [7], "reviews")
    assert letter.error_type == "permanent" and "ActorNotFound" in letter.error_class


def test_a_message_past_its_age_limit_is_dead_lettered(
    broker: dramatiq.Broker, db: Database, redis_client: redis.Redis, fault_worker: dramatiq.Worker
) -> None:
    """dramatiq's AgeLimit fails a message without running it (a skip): it is recorded all the same."""
    delivery_id = make_delivery(db, "too-old")
    message = enqueue_delivery(broker, delivery_id, options={"max_age": 1})
    wait_until(lambda: delivery(db, delivery_id).status == "dead", what="dead")
    (letter,) = dead_letters(db)
    assert letter.message_id == message.message_id and letter.delivery_id == delivery_id
    assert letter.error_type == "permanent" and "age" in letter.error_message.lower()
