"""What a service process runs besides its API: engine, outbox relay and consumers, with their lifecycles.

The broker may be down when the service starts, or go away later: the relay and the consumers keep
retrying with backoff, and the API keeps accepting commands into the outbox meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from skillkit.bus import ensure_topics, make_producer
from skillkit.consumer import EventProcessor, Handler, KafkaConsumerRunner
from skillkit.contracts.topics import ALL_TOPICS, dead_letter_topic
from skillkit.db import make_engine, make_read_sessionmaker, make_sessionmaker
from skillkit.outbox import OutboxRelay
from skillkit.settings import ServiceSettings
from skillkit.tables import KitTables

log = logging.getLogger("skillkit.runtime")


@dataclass
class PeriodicJob:
    """A job run every `seconds` in the service process (e.g. the voucher expiry sweep)."""

    name: str
    seconds: float
    run: Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]


@dataclass
class ConsumerSpec:
    name: str  # the consumer group, also the inbox's consumer name
    topics: list[str]
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Runs once per batch inside its transaction, after the handlers (see EventProcessor).
    before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        tables: KitTables,
        consumers: list[ConsumerSpec],
        periodic: list[PeriodicJob] | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.consumer_specs = consumers
        self.periodic = periodic or []
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.relay: OutboxRelay | None = None
        self.processors: dict[str, EventProcessor] = {}
        self._producer: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._runners: list[KafkaConsumerRunner] = []

    async def start(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.read_sessionmaker = make_read_sessionmaker(self.engine)  # GET requests (skillkit.app.get_session)
        for spec in self.consumer_specs:
            self.processors[spec.name] = EventProcessor(
                spec.name,
                spec.handlers,
                self.sessionmaker,
                self.tables,
                after_events_written=self.notify_outbox,
                before_commit=spec.before_commit,
            )
        if self.settings.run_relay or self.settings.run_consumers:
            self._tasks.append(asyncio.create_task(self._run_bus(), name="bus"))
        if self.settings.run_periodic:
            for job in self.periodic:
                self._tasks.append(asyncio.create_task(self._every(job), name=f"periodic-{job.name}"))

    async def _every(self, job: PeriodicJob) -> None:
        assert self.sessionmaker is not None
        while True:
            await asyncio.sleep(job.seconds)
            try:
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
