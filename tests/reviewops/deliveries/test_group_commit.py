"""Group commit: concurrent deliveries share one INSERT, each still gets its own answer, nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import intake
from reviewops.deliveries.group_commit import IntakeBatcher
from reviewops.queue.broker import LIVE_QUEUE, broker_holds, build_broker
from tests.support.servers import free_port
from tests.support.webhooks import load_payload


def incoming(guid: str) -> intake.IncomingDelivery:
    payload: dict[str, Any] = load_payload("ping/payload.json")
    return intake.IncomingDelivery(1, guid, "ping", None, payload)


def statuses(db: Database) -> dict[str, str]:
    with db.session() as s:
        return {r.delivery_guid: r.status for r in s.execute(select(WebhookDelivery)).scalars()}


def batches() -> float:
    return REGISTRY.get_sample_value("reviewops_intake_batches_total") or 0.0


async def accept_all(batcher: IntakeBatcher, guids: list[str]) -> list[intake.IntakeResult]:
    return list(await asyncio.gather(*(batcher.accept(incoming(g)) for g in guids)))


def test_concurrent_deliveries_share_batches_and_each_is_queued_once(
    db: Database, broker: dramatiq.Broker
) -> None:
    batcher = IntakeBatcher(db, broker, LIVE_QUEUE)
    before = batches()
    try:
        results = asyncio.run(accept_all(batcher, [f"g-{i}" for i in range(50)]))
    finally:
        batcher.stop()
    assert [r.status for r in results] == ["queued"] * 50
    assert len({r.delivery_id for r in results}) == 50
    assert all(broker_holds(broker, r.delivery_id) for r in results)
    assert set(statuses(db).values()) == {"queued"}
    assert 1 <= batches() - before < 50  # 50 deliveries arrived together: fewer INSERTs than deliveries


def test_a_guid_repeated_within_a_batch_is_stored_once_as_its_first_copy(
    db: Database, broker: dramatiq.Broker
) -> None:
    later_copy = intake.IncomingDelivery(1, "same", "pull_request", "closed", {"zen": "later"})
    results = intake.accept_many(db, broker, [incoming("same"), later_copy, incoming("other")], LIVE_QUEUE)
    assert [r.status for r in results] == ["queued", "duplicate", "queued"]
    assert results[0].delivery_id == results[1].delivery_id
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one() == 2
        assert s.get_one(WebhookDelivery, results[0].delivery_id).event == "ping"


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_batch_insert_stores_every_field(
    backend: str, db: Database, broker: dramatiq.Broker, tmp_path: Any
) -> None:
    """PostgreSQL takes the columns as arrays (one fixed statement), SQLite a multi-row VALUES: both
    must store the same row."""
    from reviewops.db.migrate import upgrade

    if backend == "sqlite":
        upgrade(f"sqlite:///{tmp_path / 'i.db'}")
        db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    payload = load_payload("pull_request/opened.payload.json") | {"note": 'quote " backslash \\ ü'}
    deliveries = [
        intake.IncomingDelivery(7, "pr-1", "pull_request", "opened", payload),
        intake.IncomingDelivery(7, "ping-1", "ping", None, {"zen": "z", "n": 2**40}),
    ]
    results = intake.accept_many(db, broker, deliveries, LIVE_QUEUE)
    with db.session() as s:
        pr = s.get_one(WebhookDelivery, results[0].delivery_id)
        ping = s.get_one(WebhookDelivery, results[1].delivery_id)
    assert (pr.app_id, pr.delivery_guid, pr.event, pr.action) == (7, "pr-1", "pull_request", "opened")
    assert pr.installation_id == deliveries[0].installation_id is not None
    assert pr.repository == deliveries[0].repository is not None
    assert pr.payload == payload and pr.status == "queued" and pr.attempts == 0
    assert pr.queued_at is not None and pr.queued_at.utcoffset() is not None
    assert (ping.action, ping.installation_id, ping.repository) == (None, None, None)
    assert ping.payload == {"zen": "z", "n": 2**40}
    if backend == "sqlite":
        db.dispose()


def test_a_broker_outage_sends_the_whole_batch_to_the_outbox_after_one_refusal(db: Database) -> None:
    down = build_broker(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        results = intake.accept_many(db, down, [incoming(f"out-{i}") for i in range(4)], LIVE_QUEUE)
    finally:
        down.close()
    assert [r.status for r in results] == ["stored"] * 4
    assert set(statuses(db).values()) == {"received"}  # the sweeper hands them over when Redis is back


def test_a_database_outage_fails_every_request_of_the_batch(broker: dramatiq.Broker) -> None:
    down = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    batcher = IntakeBatcher(down, broker, LIVE_QUEUE)

    async def run() -> list[BaseException | intake.IntakeResult]:
        return list(
            await asyncio.gather(
                *(batcher.accept(incoming(f"x-{i}")) for i in range(3)), return_exceptions=True
            )
        )

    try:
        outcomes = asyncio.run(run())
    finally:
        batcher.stop()
        down.dispose()
    assert all(isinstance(o, Exception) for o in outcomes), outcomes


def test_stop_finishes_what_is_queued(db: Database, broker: dramatiq.Broker) -> None:
    batcher = IntakeBatcher(db, broker, LIVE_QUEUE)

    async def run() -> list[intake.IntakeResult]:
        tasks = [asyncio.ensure_future(batcher.accept(incoming(f"s-{i}"))) for i in range(5)]
        await asyncio.sleep(0)  # all five are queued
        await asyncio.get_running_loop().run_in_executor(None, batcher.stop)
        return list(await asyncio.gather(*tasks))

    assert [r.status for r in asyncio.run(run())] == ["queued"] * 5


def test_a_locked_table_times_the_request_out_and_the_delivery_lands_later(
    db: Database, broker: dramatiq.Broker
) -> None:
    """A hung database must not hold the webhook past GitHub's 10 s: the wait ends in TimeoutError (the
    route answers 503), and the delivery is committed once the lock goes, so a redelivery is a duplicate."""
    from sqlalchemy import text

    batcher = IntakeBatcher(db, broker, LIVE_QUEUE, timeout=0.5)
    locker = db.engine.connect()
    transaction = locker.begin()
    locker.execute(text("LOCK TABLE webhook_deliveries IN ACCESS EXCLUSIVE MODE"))
    try:
        with pytest.raises(TimeoutError):
            asyncio.run(batcher.accept(incoming("locked-1")))
    finally:
        transaction.rollback()
        locker.close()
    try:
        from tests.support.waiting import wait_until

        wait_until(lambda: statuses(db).get("locked-1") == "queued", what="the delayed delivery committed")
        again = asyncio.run(batcher.accept(incoming("locked-1")))  # GitHub's redelivery after the 503
        assert again.status == "duplicate"
    finally:
        batcher.stop()


def test_the_intake_thread_survives_an_unexpected_failure(
    db: Database, broker: dramatiq.Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = IntakeBatcher(db, broker, LIVE_QUEUE)
    calls = {"n": 0}
    real = intake.accept_many

    def flaky(*args: Any, **kwargs: Any) -> list[intake.IntakeResult]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # a BaseException, not an Exception: past the database handling
        return real(*args, **kwargs)

    monkeypatch.setattr(intake, "accept_many", flaky)
    try:
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(batcher.accept(incoming("boom-1")))
        assert asyncio.run(batcher.accept(incoming("after-1"))).status == "queued"
    finally:
        batcher.stop()


def test_requests_from_several_event_loops_each_get_their_own_answer(
    db: Database, broker: dramatiq.Broker
) -> None:
    """Answers are handed over once per event loop and batch; two loops (two threads) share batches."""
    import threading

    batcher = IntakeBatcher(db, broker, LIVE_QUEUE)
    answers: dict[str, list[intake.IntakeResult]] = {}

    def serve(name: str) -> None:
        answers[name] = asyncio.run(accept_all(batcher, [f"{name}-{i}" for i in range(20)]))

    threads = [threading.Thread(target=serve, args=(name,)) for name in ("loop-a", "loop-b")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        batcher.stop()
    assert [r.status for r in answers["loop-a"] + answers["loop-b"]] == ["queued"] * 40
    stored = statuses(db)
    assert len(stored) == 40 and set(stored.values()) == {"queued"}
    ids = {r.delivery_id for r in answers["loop-a"] + answers["loop-b"]}
    assert len(ids) == 40


class Exploding(intake.IncomingDelivery):
    """A delivery whose facts raise something no one planned for (not a database error)."""

    @property
    def installation_id(self) -> int | None:
        raise RuntimeError("boom")


def deeply_nested(guid: str) -> intake.IncomingDelivery:
    """A dict payload orjson cannot serialize (nesting past its 254 levels)."""
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    return intake.IncomingDelivery(1, guid, "ping", None, {"deep": deep})


def test_any_exception_fails_only_its_own_delivery_not_its_batch(
    db: Database, broker: dramatiq.Broker
) -> None:
    """Before issue 18 the group commit handed one delivery's exception to every request in its batch."""
    batcher = IntakeBatcher(db, broker, LIVE_QUEUE)
    deliveries = []
    for i in range(40):
        deliveries.append(incoming(f"ok-{i}"))
        if i % 10 == 3:
            deliveries.append(deeply_nested(f"deep-{i}"))
        if i % 10 == 7:
            deliveries.append(Exploding(1, f"boom-{i}", "ping", None, {"zen": "x"}))

    async def accept_each() -> list[intake.IntakeResult | BaseException]:
        return list(await asyncio.gather(*(batcher.accept(d) for d in deliveries), return_exceptions=True))

    before = batches()
    try:
        results = asyncio.run(accept_each())
    finally:
        batcher.stop()
    assert batches() - before < len(deliveries)  # they really shared batches
    outcome = {d.guid: r for d, r in zip(deliveries, results, strict=True)}
    assert all(isinstance(outcome[f"ok-{i}"], intake.IntakeResult) for i in range(40))
    assert all(isinstance(r, intake.UnstorableDelivery) for g, r in outcome.items() if g.startswith("deep-"))
    assert all(isinstance(r, RuntimeError) for g, r in outcome.items() if g.startswith("boom-"))
    stored = statuses(db)
    assert set(stored) == {f"ok-{i}" for i in range(40)}
    assert set(stored.values()) == {"queued"}


def test_a_database_outage_answers_the_whole_batch_at_once(db: Database, broker: dramatiq.Broker) -> None:
    """The database being down is everyone's answer: retrying each alone would multiply the waiting."""
    down = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    batcher = IntakeBatcher(down, broker, LIVE_QUEUE)

    async def accept_five() -> list[Any]:
        return list(
            await asyncio.gather(
                *(batcher.accept(incoming(f"g-{i}")) for i in range(5)), return_exceptions=True
            )
        )

    try:
        results = asyncio.run(accept_five())
    finally:
        batcher.stop()
        down.dispose()
    assert all(isinstance(r, OperationalError) for r in results)
