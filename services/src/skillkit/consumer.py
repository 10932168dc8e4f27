"""Idempotent consumers.

(consumer, event id) is recorded in the inbox in the same transaction as the handler's effects, and
the Kafka offset is committed only after that transaction. A message that fails validation, or whose
handler keeps failing for a reason of its own, goes to the consumer group's dead-letter topic with the error and
is counted; one that fails because the database is unreachable waits and is retried until it is back.
A poll's records are applied in transactions that span partitions; one partition (so one person key) strictly
in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Counter
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.contracts.topics import TOPIC_PRODUCERS, dead_letter_topic, max_event_bytes
from skillkit.db import UTCDateTime, is_postgres, utcnow
from skillkit.events import Envelope, InvalidEvent, causation_id_var, correlation_id_var, parse_event, registry
from skillkit.inserts import insert_or_skip_statement
from skillkit.outbox import TYPE_HEADER, wrote_events
from skillkit.tables import KitTables

log = logging.getLogger("skillkit.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

CONSUMED = Counter("consumer_events_total", "Events handled", ["consumer", "type", "outcome"])
DEAD_LETTERED = Counter("consumer_dead_lettered_total", "Events sent to the dead-letter topic", ["consumer", "reason"])


class EventProcessor:
    """Applies events exactly once; independent of Kafka so tests and replays can drive it directly.

    A batch of events (one partition's, in order) shares one transaction: one inbox row per event and
    one commit, so a busy consumer does not pay a commit per event. `before_commit` lets a consumer do
    work once per batch (e.g. re-evaluate each affected person once) inside that same transaction.
    """

    def __init__(
        self,
        name: str,
        handlers: dict[str, Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: KitTables,
        # Called after a commit that wrote outbox events (the runtime wakes the relay with it).
        after_events_written: Callable[[], None] | None = None,
        before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.handlers = handlers
        self._sessionmaker = sessionmaker
        self._inbox = tables.inbox
        self._sqlite_claim = insert_or_skip_statement("sqlite", self._inbox, ["consumer", "event_id"], ["event_id"])
        self._after_events_written = after_events_written
        self._before_commit = before_commit

    async def apply(self, envelope: Envelope) -> bool:
        """Returns True when the event changed state, False when it was a duplicate or not ours."""
        return await self.apply_batch([envelope]) == 1

    async def apply_batch(self, envelopes: list[Envelope]) -> int:
        """Applies the events in order in one transaction; returns how many were new. All or nothing."""
        ours = []
        for envelope in envelopes:
            if envelope.type in self.handlers:
                ours.append(envelope)
            else:
                CONSUMED.labels(self.name, envelope.type, "ignored").inc()
        if not ours:
            return 0
        async with self._sessionmaker() as session:
            # One statement both records the events and tells which are new: an event already in the inbox (a
            # redelivery, or a concurrent delivery that commits first — the insert waits for it) is skipped.
            new_ids = await self._claim(session, {e.id: e.type for e in ours})
            fresh: list[Envelope] = []
            for envelope in ours:
                if envelope.id in new_ids:
                    new_ids.discard(envelope.id)  # a second copy inside this batch is a duplicate
                    fresh.append(envelope)
                else:
                    CONSUMED.labels(self.name, envelope.type, "duplicate").inc()
            if not fresh:
                await session.commit()  # nothing was inserted; ends the transaction cleanly
                return 0
            applied: list[Envelope] = []
            for envelope in fresh:
                correlation_token = correlation_id_var.set(envelope.correlation_id or envelope.id)
                causation_token = causation_id_var.set(envelope.id)
                try:
                    await self.handlers[envelope.type](session, envelope)
                finally:
                    correlation_id_var.reset(correlation_token)
                    causation_id_var.reset(causation_token)
                applied.append(envelope)
            if self._before_commit is not None:
                await self._before_commit(session)
            await session.commit()
            wrote = wrote_events(session)
        for envelope in applied:
            CONSUMED.labels(self.name, envelope.type, "applied").inc()
        if wrote and self._after_events_written:
            self._after_events_written()
        return len(applied)

    async def _claim(self, session: AsyncSession, types: dict[str, str]) -> set[str]:
        """Inserts the inbox rows that are not there yet; returns their event ids. On PostgreSQL from unnested
        arrays — one SQL text whatever the batch size, so the prepared statement is reused (a multi-row VALUES
        would be prepared anew for every batch size)."""
        now = utcnow()
        if is_postgres(session):
            rows = await session.scalars(_PG_CLAIM, dict(consumer=self.name, ids=list(types), types=list(types.values()),
                                                         now=now))
        else:
            rows = await session.scalars(
                self._sqlite_claim,
                [dict(consumer=self.name, event_id=i, event_type=t, processed_at=now) for i, t in types.items()],
            )
        return set(rows)


class RefusedEvent(InvalidEvent):
    """A record refused at the topic's boundary (issue 16), with the dead-letter reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_record(topic: str, value: bytes | None) -> Envelope:
    """A consumed record as an event, checked against its topic: bounded in size before it is parsed, and, on a
    platform topic, of a type that belongs to the topic and from the producer that owns it."""
    size = len(value or b"")
    if size > max_event_bytes(topic):
        raise RefusedEvent("too_large", f"{size} bytes, more than the {max_event_bytes(topic)} a record of {topic} "
                                        "may hold")
    envelope = parse_event(value or b"")
    producer = TOPIC_PRODUCERS.get(topic)
    if producer is not None:
        if registry_topic(envelope.type) != topic:
            raise RefusedEvent("wrong_topic", f"{envelope.type} belongs to {registry_topic(envelope.type)}, not {topic}")
        if envelope.source != producer:
            raise RefusedEvent("wrong_source", f"source {envelope.source!r} is not {producer!r}, the producer of {topic}")
    return envelope


def registry_topic(event_type: str) -> str | None:
    known = registry.get(event_type)
    return known.topic if known else None


def is_transient(exc: BaseException) -> bool:
    """Whether a handler's failure comes from its surroundings (the database or the network) rather than the event."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    return isinstance(exc, OSError)  # ConnectionError and TimeoutError among them


_PG_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id, event_type, processed_at)"
    " SELECT :consumer, e.id, e.type, :now FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[])) AS e(id, type)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(bindparam("now", type_=UTCDateTime()))


class KafkaConsumerRunner:
    def __init__(
        self,
        processor: EventProcessor,
        topics: list[str],
        bootstrap: str,
        producer: Any,
        *,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.2,
        batch_size: int = 200,
        fetch_max_wait_ms: int = 500,
        linger_seconds: float = 0.0,
        linger_gap_seconds: float = 0.01,
    ) -> None:
        self.processor = processor
        self.topics = topics
        self._bootstrap = bootstrap
        self._producer = producer
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff_seconds
        self._batch_size = batch_size
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._linger = linger_seconds
        self._linger_gap = linger_gap_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self.dead_letter_topic = dead_letter_topic(processor.name)

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self._bootstrap,
            group_id=self.processor.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def run_forever(self) -> None:
        assert self._consumer is not None, "start() first"
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self.position_check_seconds
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            if batches and self._linger:
                await self._linger_for_more(batches)
            if batches:
                await self._handle_poll(batches)
            if loop.time() >= next_check:
                next_check = loop.time() + self.position_check_seconds
                await self.rewind_past_end()

    position_check_seconds = 5.0

    async def rewind_past_end(self) -> list[TopicPartition]:
        """A fetch position beyond its partition's end means the broker lost the log (a broker restarted without
        its data, a topic deleted and created again): the records written since — the outbox replay among them —
        sit below the position and would be skipped until the log grew past it, with no offset-out-of-range to
        reset it (found by the whole-loop chaos test, issue 18). Such a partition is read again from its start;
        the inbox drops what was applied already. Checked every `position_check_seconds`."""
        assert self._consumer is not None
        assigned = sorted(self._consumer.assignment())
        if not assigned:
            return []
        consumer = self._consumer

        async def positions_beyond_end() -> list[TopicPartition]:
            ends = await consumer.end_offsets(assigned)
            return [tp for tp in assigned if await consumer.position(tp) > ends[tp]]

        try:
            behind = await asyncio.wait_for(positions_beyond_end(), 5)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker away or a rebalance under way: the next check will tell
            log.info("position check failed", extra={"consumer": self.processor.name, "error": repr(exc)})
            return []
        if behind:
            log.warning("positions beyond the partitions' end (the broker lost the log): reading them again",
                        extra={"consumer": self.processor.name, "partitions": [f"{tp.topic}/{tp.partition}"
                                                                               for tp in behind]})
            await self._consumer.seek_to_beginning(*behind)
        return behind

    async def _linger_for_more(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """What arrives in the next moment joins this poll's transactions: a class's events come in a burst over a
        few relay rounds, and each transaction (inbox claim, before_commit, commit) and each re-evaluation is then
        shared by more of them. Tansu answers a fetch as soon as anything is there, so fetch_max_wait /
        fetch_min_bytes do not batch. The linger ends early once no record came for `linger_gap`: the burst is
        over, and waiting out the rest only delayed it (certificate -> eligible p50 ~260 -> ~80 ms at 50 chains/s
        offered, BENCHMARKS.md)."""
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        while (left := deadline - loop.time()) > 0:
            more = await self._consumer.getmany(timeout_ms=max(1, round(1000 * min(left, self._linger_gap))))
            if not more:
                return
            for tp, records in more.items():
                batches.setdefault(tp, []).extend(records)

    async def _handle_poll(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Everything one poll returned, across partitions, in transactions of up to `batch_size` records: each
        partition's records stay in their order (cross-partition order never mattered), and a transaction's
        fixed cost — inbox claim, the consumer's before_commit, commit — is paid once for all partitions
        instead of once per partition."""
        assert self._consumer is not None
        records = [record for tp in sorted(batches) for record in batches[tp]]
        for start in range(0, len(records), self._batch_size):
            await self._handle_batch(records[start : start + self._batch_size])
        # Offsets move only after every record's transaction (or dead-lettering) is done.
        await self._consumer.commit({tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batches.items()})

    def _not_ours(self, record: ConsumerRecord) -> bool:
        """A record whose type header names a type this consumer does not handle: passed over undecoded."""
        for name, value in record.headers or ():
            if name == TYPE_HEADER:
                event_type = value.decode(errors="replace")
                if event_type in self.processor.handlers:
                    return False
                CONSUMED.labels(self.processor.name, event_type, "ignored").inc()
                return True
        return False

    async def _handle_batch(self, records: list[ConsumerRecord]) -> None:
        """One transaction for the whole batch; if it fails, record by record with retries and dead letters."""
        records = [r for r in records if not self._not_ours(r)]
        if not records:
            return
        envelopes = []
        for record in records:
            try:
                envelopes.append(decode_record(record.topic, record.value))
            except InvalidEvent:
                break
        else:
            try:
                await self.processor.apply_batch(envelopes)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch failed, applying one by one", extra={"consumer": self.processor.name,
                                                                      "error": repr(exc)})
        for record in records:
            await self._handle(record)

    async def _handle(self, record: ConsumerRecord) -> None:
        try:
            envelope = decode_record(record.topic, record.value)
        except InvalidEvent as exc:
            await self._dead_letter(record, getattr(exc, "reason", "invalid"), str(exc))
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.processor.apply(envelope)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                log.warning(
                    "handler failed",
                    extra={"consumer": self.processor.name, "event_id": envelope.id, "type": envelope.type,
                           "attempt": attempt, "transient": transient, "error": repr(exc)},
                )
                # An outage (the database unreachable, restarting or locked) is no fault of the event: it waits,
                # with its partition, however long that takes. Dead-lettering it would commit the offset past it,
                # apply the person's later events before it, and leave it to a manual redrive.
                if attempt >= self._max_attempts and not transient:
                    await self._dead_letter(record, "handler_failed", repr(exc))
                    return
                await asyncio.sleep(min(5.0, self._retry_backoff * 2 ** min(attempt - 1, 10)))

    async def _dead_letter(self, record: ConsumerRecord, reason: str, error: str) -> None:
        DEAD_LETTERED.labels(self.processor.name, reason).inc()
        CONSUMED.labels(self.processor.name, "unknown", "dead_lettered").inc()
        log.error(
            "event dead-lettered",
            extra={"consumer": self.processor.name, "topic": record.topic, "offset": record.offset, "error": error},
        )
        headers = [
            ("dlq.reason", reason.encode()),
            ("dlq.error", error[:4000].encode()),
            ("dlq.topic", record.topic.encode()),
            ("dlq.partition", str(record.partition).encode()),
            ("dlq.offset", str(record.offset).encode()),
            ("dlq.consumer", self.processor.name.encode()),
        ]
        value = record.value
        if reason == "too_large":  # kept for the record, not for a redrive: the first KiB says what it was
            value = (value or b"")[:1024]
            headers.append(("dlq.truncated", b"1"))
        await self._producer.send_and_wait(self.dead_letter_topic, value=value, key=record.key, headers=headers)
