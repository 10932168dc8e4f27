"""What a service process runs besides its API: engine, outbox relay and consumers, with their lifecycles.

The broker may be down when the service starts, or go away later: the relay and the consumers keep
retrying with backoff, and the API keeps accepting commands into the outbox meanwhile.

Replicas (several processes on one service database, issue 18):
- the outbox relay publishes one batch at a time per database: each batch runs under a transaction-scoped
  advisory lock (`skillkit.outbox.OutboxRelay`), so per-key order holds and a relay that finds the lock taken
  waits for the holder, who publishes every pending row, this replica's too;
- periodic jobs run in one process only, the leader: whoever holds a session-level advisory lock on a connection
  of its own (`Leadership`). A leader that dies (even kill -9) loses its connection and with it the lock; another
  replica takes it at its next try (`leader_check_seconds`);
- consumers of one group share its partitions (the broker rebalances them when a replica comes or goes); a record
  delivered again after a rebalance is dropped by the inbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from skillkit.bus import ensure_topics, make_producer
from skillkit.consumer import EventProcessor, Handler, KafkaConsumerRunner
from skillkit.contracts.topics import ALL_TOPICS, dead_letter_topic
from skillkit.db import make_engine, make_read_sessionmaker, make_sessionmaker
from skillkit.events import EventPayload, registry
from skillkit.outbox import OutboxRelay
from skillkit.retention import retention_job
from skillkit.settings import ServiceSettings
from skillkit.tables import KitTables

log = logging.getLogger("skillkit.runtime")

LEADER = Gauge("runtime_leader", "1 while this process is the leader that runs the periodic jobs", ["service"])


@dataclass
class PeriodicJob:
    """A job run every `seconds` in the service process (e.g. the voucher expiry sweep)."""

    name: str
    seconds: float
    run: Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]


@dataclass
class ConsumerSpec:
    """A consumer group: the topics it reads and a handler per payload class (the contract's pydantic model, e.g.
    `VoucherIssued`, never its type name spelt out). A class that is not a registered event of one of the topics
    stops the service from starting."""

    name: str  # the consumer group, also the inbox's consumer name
    topics: list[str]
    handlers: dict[type[EventPayload], Handler] = field(default_factory=dict)
    # Runs once per batch inside its transaction, after the handlers (see EventProcessor).
    before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        for payload in self.handlers:
            event_type = registry.get(getattr(payload, "__event_type__", ""))
            if event_type is None or event_type.payload is not payload:
                raise TypeError(f"consumer {self.name}: {payload!r} is not a registered event payload")
            if event_type.topic not in self.topics:
                raise TypeError(f"consumer {self.name}: {event_type.name} comes on {event_type.topic}, "
                                f"not on its topics {self.topics}")

    @property
    def by_type(self) -> dict[str, Handler]:
        """The handlers by event type name, as records name their type (the `ce_type` header)."""
        return {payload.__event_type__: handler for payload, handler in self.handlers.items()}  # type: ignore[attr-defined]


StartHook = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]


class Leadership:
    """Leader election among the replicas of one service database: the leader is the process that holds the
    session-level advisory lock `leader:<service>` on a connection it keeps for the purpose. On SQLite (one
    process, the embedded default) the only process leads.

    The lock lives as long as the connection: a leader that stops, crashes or is killed releases it with its
    connection (PostgreSQL ends the backend when the socket closes), and a follower that tries every
    `check_seconds` takes over. The leader checks its connection as often; if the check fails it steps down at
    once (a job may then overlap with the new leader's for at most one run — the jobs are idempotent sweeps)."""

    def __init__(self, engine: AsyncEngine, service: str, *, check_seconds: float = 1.0) -> None:
        self._engine = engine
        self.service = service
        self.key = _lock_key(f"leader:{service}")
        self.check_seconds = check_seconds
        self.is_leader = engine.dialect.name != "postgresql"
        self.terms = 0  # how many times this process became the leader
        self._task: asyncio.Task[Any] | None = None
        LEADER.labels(service).set(1 if self.is_leader else 0)

    def start(self) -> None:
        if self._engine.dialect.name == "postgresql":
            self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._set(False)

    def _set(self, leader: bool) -> None:
        if leader and not self.is_leader:
            self.terms += 1
            log.info("became the leader", extra={"service": self.service})
        elif self.is_leader and not leader:
            log.warning("no longer the leader", extra={"service": self.service})
        self.is_leader = leader
        LEADER.labels(self.service).set(1 if leader else 0)

    async def _run(self) -> None:
        while True:
            try:
                async with self._engine.connect() as conn:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await self._hold(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set(False)
                log.warning("leader election failed, retrying", extra={"service": self.service, "error": repr(exc)})
            await asyncio.sleep(self.check_seconds * (0.5 + random.random()))

    async def _hold(self, conn: AsyncConnection) -> None:
        try:
            while not await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}):
                await asyncio.sleep(self.check_seconds * (0.5 + random.random()))
            self._set(True)
            while True:
                await asyncio.sleep(self.check_seconds)
                await conn.scalar(text("SELECT 1"))  # the connection, hence the lock, still there
        finally:
            self._set(False)
            try:  # give the lock back at once on a graceful stop (a dead connection released it already)
                await asyncio.shield(conn.scalar(text("SELECT pg_advisory_unlock_all()")))
            except BaseException:
                pass


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        tables: KitTables,
        consumers: list[ConsumerSpec],
        periodic: list[PeriodicJob] | None = None,
        *,
        encrypted_columns: tuple[Any, ...] = (),
        on_start: StartHook | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.consumer_specs = consumers
        # Every service also runs the kit's retention of its event tables (skillkit.retention).
        self.periodic = [*(periodic or []), PeriodicJob(*retention_job(settings, tables))]
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.relay: OutboxRelay | None = None
        self.processors: dict[str, EventProcessor] = {}
        self._producer: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._runners: list[KafkaConsumerRunner] = []
        self.leadership: Leadership | None = None
        # Columns encrypted with the PII key ring (the service's rotate_keys.ENCRYPTED_COLUMNS): the start refuses to go
        # on while a value names a key id the settings do not hold (issue 16: a key is retired only when unused).
        self.encrypted_columns = encrypted_columns
        # A service's own work at start (an idempotent import or seed, in its own transaction), once the database is
        # reachable and the relay, consumers and jobs are started: the one place for it (no runtime subclass).
        self.on_start = on_start
        # (job name, monotonic time) of every periodic run in this process: tests and the chaos controller read it
        self.periodic_runs: list[tuple[str, float]] = []

    async def start(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.read_sessionmaker = make_read_sessionmaker(self.engine)  # GET requests (skillkit.app.get_session)
        if self.encrypted_columns:
            from skillkit.rotate_keys import refuse_retired_keys_in_use

            await refuse_retired_keys_in_use(self.engine, self.encrypted_columns, self.settings)
        for spec in self.consumer_specs:
            self.processors[spec.name] = EventProcessor(
                spec.name,
                spec.by_type,
                self.sessionmaker,
                self.tables,
                after_events_written=self.notify_outbox,
                before_commit=spec.before_commit,
            )
        if self.settings.run_relay or self.settings.run_consumers:
            self._tasks.append(asyncio.create_task(self._run_bus(), name="bus"))
        if self.settings.run_periodic and self.periodic:
            self.leadership = Leadership(self.engine, self.settings.service_name,
                                         check_seconds=self.settings.leader_check_seconds)
            self.leadership.start()
            for job in self.periodic:
                self._tasks.append(asyncio.create_task(self._every(job), name=f"periodic-{job.name}"))
        if self.on_start is not None:
            await self.on_start(self.sessionmaker)

    async def _every(self, job: PeriodicJob) -> None:
        assert self.sessionmaker is not None
        while True:
            await asyncio.sleep(job.seconds)
            if self.leadership is not None and not self.leadership.is_leader:
                continue  # another replica leads and runs the jobs
            try:
                self.periodic_runs.append((job.name, asyncio.get_running_loop().time()))
                del self.periodic_runs[:-1000]
                await job.run(self.sessionmaker)
                self.notify_outbox()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("periodic job failed", extra={"job": job.name, "error": repr(exc)})

    def notify_outbox(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    async def _run_bus(self) -> None:
        self._producer = await _retrying("producer start", self._start_producer)
        if self.settings.run_relay:
            assert self.sessionmaker is not None
            self.relay = OutboxRelay(
                self.settings.service_name,
                self.tables,
                self.sessionmaker,
                self._producer,
                batch_size=self.settings.relay_batch_size,
                poll_seconds=self.settings.relay_poll_seconds,
                linger_seconds=self.settings.relay_linger_seconds,
                after_outage=self._ensure_topics,
            )
            self._tasks.append(asyncio.create_task(self.relay.run_forever(), name="outbox-relay"))
        if self.settings.run_consumers:
            for spec in self.consumer_specs:
                runner = KafkaConsumerRunner(
                    self.processors[spec.name],
                    spec.topics,
                    self.settings.kafka_bootstrap,
                    self._producer,
                    max_attempts=self.settings.consumer_max_attempts,
                    fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
                    linger_seconds=self.settings.consumer_linger_ms / 1000,
                    linger_gap_seconds=self.settings.consumer_linger_gap_ms / 1000,
                )
                self._runners.append(runner)
                self._tasks.append(asyncio.create_task(self._keep_consuming(runner), name=f"consumer-{spec.name}"))

    async def _ensure_topics(self) -> None:
        topics = list(ALL_TOPICS) + [dead_letter_topic(s.name) for s in self.consumer_specs]
        await ensure_topics(
            self.settings.kafka_bootstrap, topics, self.settings.kafka_partitions, self.settings.kafka_replication_factor
        )

    async def _start_producer(self) -> Any:
        await self._ensure_topics()
        producer = make_producer(self.settings)
        try:
            await producer.start()
        except Exception:
            await producer.stop()
            raise
        return producer

    async def _keep_consuming(self, runner: KafkaConsumerRunner) -> None:
        while True:
            try:
                await runner.start()
                await runner.run_forever()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer stopped, restarting", extra={"consumer": runner.processor.name, "error": repr(exc)})
                try:
                    await runner.stop()
                except Exception:
                    pass
                await asyncio.sleep(1 + random.random())

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.leadership is not None:
            await self.leadership.stop()
        for runner in self._runners:
            try:
                await runner.stop()
            except Exception:
                pass
        if self._producer is not None:
            await self._producer.stop()
        if self.engine is not None:
            await self.engine.dispose()


async def _retrying(what: str, attempt: Any) -> Any:
    delay = 0.2
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} failed, retrying", extra={"error": repr(exc), "retry_in": delay})
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)
