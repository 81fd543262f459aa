"""Replay against real PostgreSQL and Redis: filters, dry runs, idempotence and concurrency."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import dramatiq
import pytest
import redis
from sqlalchemy import select

from reviewops.db.models import DeadLetter, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.dlq import replay as service
from reviewops.dlq.store import PENDING_KEY, FilterError, Filters, parse_duration
from tests.support.faults import bulk_dead_letters


def replay_bodies(client: redis.Redis) -> list[dict[str, object]]:
    return [json.loads(v) for v in client.hvals("dramatiq:reviews.replay.msgs")]


def states(db: Database) -> dict[int, str]:
    with db.session() as s:
        return {i: state for i, state in s.execute(select(DeadLetter.id, DeadLetter.replay_state))}


def test_dry_run_changes_nothing(db: Database, broker: dramatiq.Broker, redis_client: redis.Redis) -> None:
    ids = bulk_dead_letters(db, 3)
    result = service.replay(db, broker, Filters(), dry_run=True)
    assert result.matched == 3 and result.replayed == 0 and sorted(result.dead_letter_ids) == sorted(ids)
    assert set(states(db).values()) == {"pending"}
    assert redis_client.hlen("dramatiq:reviews.replay.msgs") == 0


def test_replay_with_filters_resets_retries_and_age(
    db: Database, broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    old = utcnow() - timedelta(hours=2)
    wanted = bulk_dead_letters(
        db, 2, tenant_id=7, failed_at=old, options={"retries": 3, "traceback": "x", "max_retries": 5}
    )
    other_tenant = bulk_dead_letters(db, 1, tenant_id=8, failed_at=old)
    too_recent = bulk_dead_letters(db, 1, tenant_id=7)
    permanent = bulk_dead_letters(db, 1, tenant_id=7, failed_at=old, error_type="permanent")
    before = int(time.time() * 1000)

    filters = Filters(tenant=7, error_type="transient", older_than=parse_duration("1h"))
    result = service.replay(db, broker, filters, redis_client=redis_client)

    assert (result.replayed, result.skipped, result.failed) == (2, 0, 0)
    by_id = states(db)
    assert [by_id[i] for i in wanted] == ["replayed", "replayed"]
    assert {by_id[i] for i in other_tenant + too_recent + permanent} == {"pending"}
    bodies = replay_bodies(redis_client)
    assert len(bodies) == 2
    with db.session() as s:
        letters = s.execute(select(DeadLetter).where(DeadLetter.id.in_(wanted))).scalars().all()
        deliveries = {d.id: d.status for d in s.execute(select(WebhookDelivery)).scalars()}
    assert {b["message_id"] for b in bodies} == {letter.message_id for letter in letters}
    for body in bodies:
        options = body["options"]
        assert isinstance(options, dict)
        assert body["actor_name"] == "process_delivery_replay" and body["queue_name"] == "reviews.replay"
        assert "retries" not in options and "traceback" not in options
        assert options["max_retries"] == 5 and options["replay_id"] == result.replay_id
        assert isinstance(body["message_timestamp"], int) and body["message_timestamp"] >= before
    for letter in letters:
        assert letter.replay_id == result.replay_id and letter.replay_count == 1 and letter.replayed_at
        assert deliveries[letter.delivery_id] == "queued"  # type: ignore[index]
    assert redis_client.get(PENDING_KEY) == b"3"

    again = service.replay(db, broker, filters, redis_client=redis_client)
    assert (again.matched, again.replayed) == (0, 0)
    assert len(replay_bodies(redis_client)) == 2


def test_limit_and_result_key(db: Database, broker: dramatiq.Broker, redis_client: redis.Redis) -> None:
    bulk_dead_letters(db, 5)
    result = service.replay(db, broker, Filters(limit=3))
    assert result.replayed == 3
    key = service.store_result(redis_client, "job-1", result)
    assert key == "reviewops:replay-results:job-1"
    stored = json.loads(redis_client.get(key) or b"{}")
    assert stored == {
        "replayed": 3, "skipped": 0, "failed": 0, "started_at": result.started_at,
        "finished_at": result.finished_at, "replay_id": result.replay_id,
    }  # fmt: skip
    assert 0 < redis_client.ttl(key) <= 7 * 86400


def test_concurrent_replays_enqueue_each_dead_letter_once(
    db: Database, broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    ids = bulk_dead_letters(db, 600)
    results: list[service.ReplayResult] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(service.replay(db, broker, Filters()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.replayed for r in results) == 600
    assert sorted(results[0].dead_letter_ids + results[1].dead_letter_ids) == sorted(ids)
    bodies = replay_bodies(redis_client)
    assert len(bodies) == 600 and len({b["message_id"] for b in bodies}) == 600
    assert redis_client.llen("dramatiq:reviews.replay") == 600
    assert set(states(db).values()) == {"replayed"}


def test_a_failed_enqueue_puts_the_row_back(db: Database, redis_client: redis.Redis) -> None:
    from reviewops.queue.broker import build_broker

    (letter_id,) = bulk_dead_letters(db, 1)
    dead_broker = build_broker("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        result = service.replay(db, dead_broker, Filters())
    finally:
        dead_broker.close()
    assert (result.replayed, result.failed) == (0, 1)
    assert states(db) == {letter_id: "pending"}
    with db.session() as s:
        assert s.execute(select(WebhookDelivery.status)).scalar_one() == "dead"


def test_a_finished_delivery_is_skipped_not_enqueued(
    db: Database, broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    (letter_id,) = bulk_dead_letters(db, 1)
    with db.session() as s:
        s.execute(WebhookDelivery.__table__.update().values(status="processed"))
    result = service.replay(db, broker, Filters())
    assert (result.replayed, result.skipped) == (0, 1)
    assert states(db) == {letter_id: "replayed"}
    assert replay_bodies(redis_client) == []


@pytest.mark.parametrize(
    ("value", "option"),
    [("10x", "--older-than"), ("m10", "--older-than")],
)
def test_bad_durations_name_the_option(value: str, option: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_duration(value)
    assert info.value.option == option and value in str(info.value)


@pytest.mark.parametrize("value", ["fast", "0/s", "5/y", "-1"])
def test_bad_rates_name_the_option(value: str) -> None:
    with pytest.raises(FilterError, match="--rate"):
        service.parse_rate(value)


def test_rates() -> None:
    assert service.parse_rate("50/s") == 50 and service.parse_rate("600/m") == 10
    assert service.parse_rate("7200/h") == 2 and service.parse_rate("3") == 3


def test_filter_validation() -> None:
    with pytest.raises(FilterError, match="--error-type"):
        Filters(error_type="fatal")
    with pytest.raises(FilterError, match="--limit"):
        Filters(limit=0)
    with pytest.raises(FilterError, match="--state"):
        Filters(state="gone")
