"""Test harness: a service app on a fresh migrated database, with an httpx client and dev tokens."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import MetaData, delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import TABLE as AUDIT_TABLE
from skillkit.audit import SQLITE_GUARD, SQLITE_UNGUARD
from skillkit.auth import Role, mint_token
from skillkit.contracts.topics import TOPIC_PRODUCERS
from skillkit.events import Envelope, EventPayload, build_event, parse_event, registry
from skillkit.migrations import upgrade
from skillkit.runtime import ServiceRuntime
from skillkit.settings import ServiceSettings


@dataclass
class ServiceUnderTest:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ServiceSettings

    @property
    def runtime(self) -> ServiceRuntime:
        return self.app.state.runtime

    @property
    def sessionmaker(self) -> Any:
        return self.runtime.sessionmaker

    def headers(self, role: Role | str, sub: str | None = None, org: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, role, sub, org)}", **extra}

    async def wipe(self, metadata: MetaData) -> None:
        """Empty every table (children first) so each test starts from nothing. The audit log refuses DELETE:
        it is emptied the way only a database superuser could (`run_unguarded`)."""
        async with self.sessionmaker() as session:
            for table in reversed(metadata.sorted_tables):
                if table.name == AUDIT_TABLE:
                    await run_unguarded(session, delete(table))
                else:
                    await session.execute(delete(table))
            await session.commit()


async def run_unguarded(session: AsyncSession, *statements: Any) -> None:
    """Runs statements on `audit_log` with its append-only guard off, in the session's transaction — what a
    database superuser can do, and what the published head (P10) exists to reveal. PostgreSQL: triggers do not fire
    under `session_replication_role = replica` (superuser only; the tests connect as one), set back before the
    transaction goes on. SQLite: the triggers are dropped and made again in the same transaction."""
    postgres = session.bind.dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for ddl in SQLITE_UNGUARD:
            await session.execute(text(ddl))
    for statement in statements:
        await session.execute(text(statement) if isinstance(statement, str) else statement)
    if postgres:
        await session.execute(text("SET LOCAL session_replication_role = origin"))
    else:
        for ddl in SQLITE_GUARD:
            await session.execute(text(ddl))


@asynccontextmanager
async def running_service(
    create: Callable[[Any], FastAPI],
    settings: ServiceSettings,
    migrations_package: str,
) -> AsyncIterator[ServiceUnderTest]:
    """Migrates the settings' database with Alembic, starts the app's lifespan, yields a client."""
    await asyncio.to_thread(upgrade, migrations_package, settings.database_url)
    app = create(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # Problem details are Chinese by default; the suite asserts the precise English ones, so its client asks for
        # English (tests/voucher/test_problem_language.py covers the Chinese default).
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers={"Accept-Language": "en"}) as client:
            yield ServiceUnderTest(app=app, client=client, settings=settings)


async def publish(bootstrap: str, payload: EventPayload, partition_key: str, *, event_id: str | None = None,
                  source: str | None = None) -> str:
    """Publish one event as another service would (as the producer that owns its topic, unless `source` says
    otherwise: consumers dead-letter any other); returns its id."""
    topic = registry.type_of(payload).topic
    event_id, event_type, body = build_event(payload, source=source or TOPIC_PRODUCERS[topic],
                                             partition_key=partition_key, event_id=event_id)
    await publish_raw(bootstrap, event_type.topic, body, partition_key)
    return event_id


async def publish_raw(bootstrap: str, topic: str, body: bytes, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=body, key=key.encode())
    finally:
        await producer.stop()


class TopicProbe:
    """Reads a topic from the beginning (no group) and collects decoded events."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                          enable_auto_commit=False)
        self.raw: list[bytes] = []
        self.headers: list[dict[str, bytes]] = []  # each raw record's headers, same order
        self.events: list[Envelope] = []

    async def __aenter__(self) -> "TopicProbe":
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._consumer.stop()

    async def wait_for(self, predicate: Callable[[Envelope], bool], timeout: float = 20.0) -> Envelope:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if predicate(event):
                    return event
            if time.monotonic() >= deadline:
                break
            await self._read_batch()
        seen = [(e.type, getattr(e.data, "voucher_id", None)) for e in self.events]
        raise AssertionError(f"no matching event within {timeout} s; saw {seen}")

    async def _read_batch(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                self.raw.append(record.value)
                self.headers.append(dict(record.headers or ()))
                try:
                    self.events.append(parse_event(record.value))
                except Exception:
                    continue


async def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Polls an async check until it returns a truthy value (for effects of asynchronous consumers)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value {last!r})")
