"""Idempotent consumers on the real broker: duplicates applied once, a failing handler never commits
its offset, invalid or poisonous messages go to the dead-letter topic with the error."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from skillkit.bus import ensure_topics
from skillkit.consumer import EventProcessor, KafkaConsumerRunner
from skillkit.contracts.topics import dead_letter_topic
from skillkit.contracts.voucher import VoucherExpired
from skillkit.db import make_engine, make_sessionmaker
from skillkit.events import build_event, parse_event
from skillkit.outbox import Outbox
from skillkit.testing.harness import eventually
from voucher_service.adapters.models import kit_tables


@pytest.fixture
async def sessionmaker(database_factory):
    url = await database_factory("kitconsumer", migrated="voucher_service.migrations")
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def producer(broker):
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def topic(broker):
    name = f"test.kit.{uuid.uuid4().hex[:8]}"
    group_prefix = f"test-group-{uuid.uuid4().hex[:6]}"
    await ensure_topics(broker.bootstrap, [name, dead_letter_topic(group_prefix)], 1)
    return name, group_prefix


def expired_event(event_id: str | None = None) -> bytes:
    payload = VoucherExpired(voucher_id="v-1", person_key="pk-1", expired_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    return build_event(payload, source="/tests", partition_key="pk-1", event_id=event_id)[2]


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    async def __call__(self, session, envelope) -> None:
        self.calls.append(envelope.id)
        if self.fail:
            raise RuntimeError("database is on fire")


async def run_for_a_while(runner: KafkaConsumerRunner, until) -> None:
    await runner.start()
    task = asyncio.create_task(runner.run_forever())
    try:
        await eventually(until, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.stop()


async def committed_offset(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def inbox_count(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(kit_tables.inbox))


async def test_same_event_delivered_twice_is_applied_once(broker, sessionmaker, producer, topic):
    name, group = topic
    body = expired_event()
    await producer.send_and_wait(name, body, key=b"pk-1")
    await producer.send_and_wait(name, body, key=b"pk-1")
    recorder = Recorder()
    processor = EventProcessor(group, {"voucher.expired.v1": recorder}, sessionmaker, kit_tables)
    runner = KafkaConsumerRunner(processor, [name], broker.bootstrap, producer)

    async def both_consumed() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 2

    await run_for_a_while(runner, both_consumed)
    assert len(recorder.calls) == 1
    assert await inbox_count(sessionmaker) == 1


async def test_handler_that_raises_does_not_commit_the_offset(broker, sessionmaker, producer, topic):
    name, group = topic
    event_id = str(uuid.uuid4())
    await producer.send_and_wait(name, expired_event(event_id), key=b"pk-1")
    failing = Recorder(fail=True)
    processor = EventProcessor(group, {"voucher.expired.v1": failing}, sessionmaker, kit_tables)
    runner = KafkaConsumerRunner(processor, [name], broker.bootstrap, producer, max_attempts=1000,
                                 retry_backoff_seconds=0.01)

    async def retried() -> bool:
        return len(failing.calls) >= 3

    await run_for_a_while(runner, retried)
    assert await committed_offset(broker.bootstrap, group, name) is None
    assert await inbox_count(sessionmaker) == 0
    # After a restart with a working handler the same event is applied, exactly once.
    healthy = Recorder()
    runner = KafkaConsumerRunner(EventProcessor(group, {"voucher.expired.v1": healthy}, sessionmaker, kit_tables),
                                 [name], broker.bootstrap, producer)

    async def done() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 1

    await run_for_a_while(runner, done)
    assert healthy.calls == [event_id]
    assert await inbox_count(sessionmaker) == 1


async def dead_letters(bootstrap: str, group: str, count: int) -> list:
    consumer = AIOKafkaConsumer(dead_letter_topic(group), bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list = []
    try:
        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= count

        await eventually(enough, timeout=20)
    finally:
        await consumer.stop()
    return records


async def test_invalid_and_poisonous_messages_are_dead_lettered(broker, sessionmaker, producer, topic):
    name, group = topic
    await producer.send_and_wait(name, b'{"not": "a cloudevent"}', key=b"k")
    await producer.send_and_wait(name, expired_event(), key=b"pk-1")
    failing = Recorder(fail=True)
    runner = KafkaConsumerRunner(EventProcessor(group, {"voucher.expired.v1": failing}, sessionmaker, kit_tables),
                                 [name], broker.bootstrap, producer, max_attempts=2, retry_backoff_seconds=0.01)

    async def both_handled() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 2

    await run_for_a_while(runner, both_handled)
    records = await dead_letters(broker.bootstrap, group, 2)
    headers = [dict(r.headers) for r in records]
    assert [h["dlq.reason"] for h in headers] == [b"invalid", b"handler_failed"]
    assert b"not a CloudEvents" in headers[0]["dlq.error"] or b"unknown event type" in headers[0]["dlq.error"]
    assert b"database is on fire" in headers[1]["dlq.error"]
    assert records[0].value == b'{"not": "a cloudevent"}'
    assert len(failing.calls) == 2
    assert await inbox_count(sessionmaker) == 0


class Outage:
    """A handler whose database is unreachable for its first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, session, envelope) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("INSERT INTO inbox ...", {}, ConnectionRefusedError("connection refused"))


async def test_an_outage_is_retried_until_it_ends_and_never_dead_lettered(broker, sessionmaker, producer, topic):
    name, group = topic
    await producer.send_and_wait(name, expired_event(), key=b"pk-1")
    outage = Outage(failures=4)  # twice the attempts a poisonous event gets
    runner = KafkaConsumerRunner(EventProcessor(group, {"voucher.expired.v1": outage}, sessionmaker, kit_tables),
                                 [name], broker.bootstrap, producer, max_attempts=2, retry_backoff_seconds=0.01)

    async def handled() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 1

    await run_for_a_while(runner, handled)
    assert outage.calls == 5  # the batch's try, then the record alone: three more failures and the success
    assert await inbox_count(sessionmaker) == 1  # applied: a dead-lettered event never would be


def envelope_of(event_id: str):
    from skillkit.events import parse_event

    return parse_event(expired_event(event_id))


async def test_a_batch_is_one_transaction_with_one_hook_call_and_duplicates_dropped(sessionmaker):
    recorder = Recorder()
    hook_calls: list[int] = []

    async def before_commit(session) -> None:
        hook_calls.append(len(recorder.calls))

    processor = EventProcessor("batcher", {"voucher.expired.v1": recorder}, sessionmaker, kit_tables,
                               before_commit=before_commit)
    first, second = envelope_of(str(uuid.uuid4())), envelope_of(str(uuid.uuid4()))
    assert await processor.apply(first) is True
    assert await processor.apply_batch([first, second, second]) == 1
    assert recorder.calls == [first.id, second.id]
    assert hook_calls == [1, 2]
    assert await inbox_count(sessionmaker) == 2


async def test_the_relay_is_woken_only_after_a_batch_that_wrote_events(sessionmaker):
    """An empty relay round costs a transaction and a query; most consumer batches write no event."""
    outbox = Outbox(kit_tables, "/tests")
    wake_ups: list[int] = []

    async def quiet(session, envelope) -> None:
        pass

    async def publishing(session, envelope) -> None:
        await outbox.add(session, envelope.data, partition_key=envelope.partition_key)

    async def deferring(session, envelope) -> None:
        outbox.defer(session, envelope.data, partition_key=envelope.partition_key)

    for name, handler, hook in (("quiet", quiet, None), ("publishing", publishing, None),
                                ("deferring", deferring, outbox.write_deferred)):
        processor = EventProcessor(name, {"voucher.expired.v1": handler}, sessionmaker, kit_tables,
                                   after_events_written=lambda: wake_ups.append(1), before_commit=hook)
        assert await processor.apply(envelope_of(str(uuid.uuid4()))) is True
        wake_ups.append(0)  # separates the processors' wake-ups
    assert wake_ups == [0, 1, 0, 1, 0]


async def test_a_failing_handler_rolls_back_the_whole_batch(sessionmaker):
    calls: list[str] = []
    poison = str(uuid.uuid4())

    async def handler(session, envelope) -> None:
        calls.append(envelope.id)
        if envelope.id == poison:
            raise RuntimeError("poison")

    processor = EventProcessor("batcher", {"voucher.expired.v1": handler}, sessionmaker, kit_tables)
    good = envelope_of(str(uuid.uuid4()))
    with pytest.raises(RuntimeError):
        await processor.apply_batch([good, envelope_of(poison)])
    assert await inbox_count(sessionmaker) == 0  # the good event's inbox row went with the rollback
    assert await processor.apply(good) is True


async def test_records_of_types_not_handled_are_passed_over_by_their_type_header(broker, sessionmaker, producer, topic):
    """The relay writes the type as a `ce_type` header; a consumer skips types it does not handle without
    decoding them (even a body that would not parse), and still commits past them."""
    name, group = topic
    handled = str(uuid.uuid4())
    await producer.send_and_wait(name, b"not even json", key=b"pk-1", headers=[("ce_type", b"voucher.issued.v1")])
    await producer.send_and_wait(name, expired_event(handled), key=b"pk-1",
                                 headers=[("ce_type", b"voucher.expired.v1")])
    recorder = Recorder()
    runner = KafkaConsumerRunner(EventProcessor(group, {"voucher.expired.v1": recorder}, sessionmaker, kit_tables),
                                 [name], broker.bootstrap, producer)

    async def both_passed() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 2

    await run_for_a_while(runner, both_passed)
    assert recorder.calls == [handled]
    assert await inbox_count(sessionmaker) == 1
    # nothing was dead-lettered: the undecodable record was not ours
    probe = AIOKafkaConsumer(dead_letter_topic(group), bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    await probe.start()
    try:
        batches = await probe.getmany(timeout_ms=1000)
    finally:
        await probe.stop()
    assert sum(len(r) for r in batches.values()) == 0


async def _transactions_of_two_records(broker, sessionmaker, producer, topic, *, pause: float, linger: float,
                                       gap: float) -> list[int]:
    """Sends a record, then another `pause` seconds later; returns the records applied after each transaction."""
    name, group = topic
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    transactions: list[int] = []
    recorder = Recorder()

    async def before_commit(session) -> None:
        transactions.append(len(recorder.calls))

    runner = KafkaConsumerRunner(
        EventProcessor(group, {"voucher.expired.v1": recorder}, sessionmaker, kit_tables, before_commit=before_commit),
        [name], broker.bootstrap, producer, fetch_max_wait_ms=50, linger_seconds=linger, linger_gap_seconds=gap)
    await runner.start()
    task = asyncio.create_task(runner.run_forever())
    try:
        await producer.send_and_wait(name, expired_event(first), key=b"pk-1")
        await asyncio.sleep(pause)
        await producer.send_and_wait(name, expired_event(second), key=b"pk-2")
        assert await eventually(lambda: _applied(recorder, 2), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.stop()
    assert sorted(recorder.calls) == sorted([first, second])
    return transactions


async def test_records_arriving_while_a_poll_lingers_join_its_transaction(broker, sessionmaker, producer, topic):
    """A consumer that got records waits up to `linger_seconds` for more before applying them: a burst that arrives
    over several relay rounds is one transaction (one before_commit, one commit) instead of one per round."""
    transactions = await _transactions_of_two_records(broker, sessionmaker, producer, topic,
                                                      pause=0.5, linger=3.0, gap=1.5)
    assert transactions == [2]


async def test_a_quiet_gap_ends_the_linger(broker, sessionmaker, producer, topic):
    """The linger stops once `linger_gap_seconds` pass without a record: the first record is applied then, not
    at the end of the linger, and one that comes later is a transaction of its own."""
    transactions = await _transactions_of_two_records(broker, sessionmaker, producer, topic,
                                                      pause=1.5, linger=6.0, gap=0.3)
    assert transactions == [1, 2]


async def _applied(recorder: Recorder, n: int) -> bool:
    return len(recorder.calls) >= n


async def test_add_many_writes_events_in_order_with_their_keys(sessionmaker):
    from skillkit.outbox import Outbox

    outbox = Outbox(kit_tables, "/tests")
    payloads = [VoucherExpired(voucher_id=f"v-{i}", person_key=f"pk-{i}",
                               expired_at=datetime(2026, 1, 1, tzinfo=timezone.utc)) for i in range(3)]
    async with sessionmaker() as session:
        ids = await outbox.add_many(session, [(p, p.person_key, p.voucher_id) for p in payloads])
        await session.commit()
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(kit_tables.outbox.c.event_id, kit_tables.outbox.c.partition_key, kit_tables.outbox.c.event_type)
            .order_by(kit_tables.outbox.c.seq))).all()
    assert [tuple(r) for r in rows] == [(ids[i], f"pk-{i}", "voucher.expired.v1") for i in range(3)]


async def test_deferred_events_keep_the_handled_event_as_cause_and_cannot_be_left_behind(sessionmaker):
    from skillkit.outbox import Outbox

    outbox = Outbox(kit_tables, "/tests")
    later = VoucherExpired(voucher_id="v-9", person_key="pk-9", expired_at=datetime(2026, 1, 1, tzinfo=timezone.utc))

    async def handler(session, envelope) -> None:
        outbox.defer(session, later, partition_key="pk-9", subject="v-9")

    processor = EventProcessor("deferring", {"voucher.expired.v1": handler}, sessionmaker, kit_tables,
                               before_commit=outbox.write_deferred)
    cause = envelope_of(str(uuid.uuid4()))
    assert await processor.apply(cause) is True
    async with sessionmaker() as session:
        body = await session.scalar(select(kit_tables.outbox.c.body))
    written = parse_event(body)
    assert (written.data.voucher_id, written.causation_id) == ("v-9", cause.id)

    forgetful = EventProcessor("forgetful", {"voucher.expired.v1": handler}, sessionmaker, kit_tables)
    with pytest.raises(RuntimeError, match="1 deferred outbox events not written"):
        await forgetful.apply(envelope_of(str(uuid.uuid4())))
    async with sessionmaker() as session:  # the forgetful transaction rolled back: no inbox row, no event
        assert await session.scalar(select(func.count()).select_from(kit_tables.outbox)) == 1
    assert await inbox_count(sessionmaker) == 1


async def test_two_concurrent_deliveries_of_one_event_apply_it_once(sessionmaker):
    """A rebalance can hand the same event to two consumers at once: the second inbox insert waits for the
    first transaction and then finds the event recorded."""
    calls: list[str] = []

    async def slow(session, envelope) -> None:
        calls.append(envelope.id)
        await asyncio.sleep(0.3)

    processor = EventProcessor("racer", {"voucher.expired.v1": slow}, sessionmaker, kit_tables)
    event = envelope_of(str(uuid.uuid4()))
    results = await asyncio.gather(processor.apply(event), processor.apply(event))
    assert sorted(results) == [False, True]
    assert calls == [event.id]
    assert await inbox_count(sessionmaker) == 1


# --- issue 16: a record is checked against its topic before it is applied ------------------------------------------

def test_issue16_an_event_from_another_producer_than_the_topics_owner_is_refused():
    from skillkit.consumer import RefusedEvent, decode_record
    from skillkit.contracts.topics import TRAINING_SOURCE, VOUCHER_SOURCE, VOUCHER_TOPIC

    payload = VoucherExpired(voucher_id="v-1", person_key="pk-1", expired_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert decode_record(VOUCHER_TOPIC, build_event(payload, source=VOUCHER_SOURCE, partition_key="pk-1")[2]).data == payload
    for source in (TRAINING_SOURCE, "/tests", "/linxian/voucher-service/"):
        with pytest.raises(RefusedEvent) as refused:
            decode_record(VOUCHER_TOPIC, build_event(payload, source=source, partition_key="pk-1")[2])
        assert refused.value.reason == "wrong_source", source
    # an event type of another topic, even from that topic's producer
    from skillkit.contracts.training import TrainingStarted
    started = TrainingStarted(enrolment_id="e", voucher_id="v", class_id="c", person_key="pk-1",
                              first_day=datetime(2026, 1, 1).date(), checked_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(RefusedEvent, match="training.started.v1 belongs to skills.training.v1, not skills.voucher.v1") as refused:
        decode_record(VOUCHER_TOPIC, build_event(started, source=VOUCHER_SOURCE, partition_key="pk-1")[2])
    assert refused.value.reason == "wrong_topic"


def test_issue16_an_inbound_province_message_is_size_bounded_before_it_is_parsed():
    from skillkit.consumer import RefusedEvent, decode_record
    from skillkit.contracts.province import LineVerdict, RealnameAnswered
    from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_SOURCE

    def answer(lines: int) -> bytes:
        payload = RealnameAnswered(submission_id="s", record_type="trainee", class_id="c", verdict="accepted", lines=[
            LineVerdict(enrolment_id=str(uuid.uuid4()), person_key="f" * 64, verdict="accepted") for _ in range(lines)])
        return build_event(payload, source=PROVINCE_SOURCE, partition_key="c")[2]

    largest_class = answer(1000)  # a class holds at most 1000 trainees
    assert len(decode_record(PROVINCE_INBOUND_TOPIC, largest_class).data.lines) == 1000
    with pytest.raises(RefusedEvent, match=r"bytes, more than the 524288 a record of province.realname.inbound.v1") as refused:
        decode_record(PROVINCE_INBOUND_TOPIC, answer(4000))
    assert refused.value.reason == "too_large"
    with pytest.raises(RefusedEvent) as refused:  # not even read: a megabyte of anything
        decode_record(PROVINCE_INBOUND_TOPIC, b"{" * (600 * 1024))
    assert refused.value.reason == "too_large"


async def test_issue16_refused_records_are_dead_lettered_with_their_reason(broker, sessionmaker, producer, topic,
                                                                           monkeypatch):
    """The runner's path: the test's topic stands for a platform topic owned by the voucher service."""
    import skillkit.consumer as consumer_module
    from skillkit.contracts.topics import VOUCHER_SOURCE

    name, group = topic
    monkeypatch.setitem(consumer_module.TOPIC_PRODUCERS, name, VOUCHER_SOURCE)
    monkeypatch.setattr(consumer_module, "registry_topic", lambda event_type: name)
    monkeypatch.setattr(consumer_module, "max_event_bytes", lambda t: 64 * 1024)
    payload = VoucherExpired(voucher_id="v-1", person_key="pk-1", expired_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    forged = build_event(payload, source="/linxian/training-service", partition_key="pk-1")[2]
    genuine_id = str(uuid.uuid4())
    genuine = build_event(payload, source=VOUCHER_SOURCE, partition_key="pk-1", event_id=genuine_id)[2]
    huge = b"x" * (100 * 1024)
    for body in (forged, huge, genuine):
        await producer.send_and_wait(name, body, key=b"pk-1")
    recorder = Recorder()
    runner = KafkaConsumerRunner(EventProcessor(group, {"voucher.expired.v1": recorder}, sessionmaker, kit_tables),
                                 [name], broker.bootstrap, producer, max_attempts=2, retry_backoff_seconds=0.01)

    async def all_handled() -> bool:
        return await committed_offset(broker.bootstrap, group, name) == 3

    await run_for_a_while(runner, all_handled)
    records = await dead_letters(broker.bootstrap, group, 2)
    headers = [dict(r.headers) for r in records]
    assert [h["dlq.reason"] for h in headers] == [b"wrong_source", b"too_large"]
    assert headers[0]["dlq.error"] == (f"source '/linxian/training-service' is not '{VOUCHER_SOURCE}', the producer "
                                       f"of {name}").encode()
    assert records[0].value == forged
    assert (records[1].value, headers[1]["dlq.truncated"]) == (huge[:1024], b"1")
    assert recorder.calls == [genuine_id]
