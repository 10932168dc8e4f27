"""Replicas on one service database (issue 18): one relay publishes at a time, periodic jobs run in one process
(the leader), and when the leader goes another takes over. PostgreSQL only: on SQLite there is one process."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text

from skillkit.db import make_engine, make_sessionmaker, utcnow
from skillkit.outbox import OutboxRelay
from skillkit.runtime import PeriodicJob, ServiceRuntime
from skillkit.settings import ServiceSettings
from skillkit.testing.harness import eventually
from skillkit.testing.plugin import test_backend as chosen_backend
from voucher_service.adapters.models import kit_tables

PERIOD = 0.2


async def test_on_sqlite_the_only_process_leads(tmp_path) -> None:
    """The embedded default runs one process per database: it leads without an election."""
    runs: list[tuple[str, float]] = []
    runtime = _runtime(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", runs, "only")
    await runtime.start()
    try:
        assert runtime.leadership is not None and runtime.leadership.is_leader
        await eventually(lambda: _ran_after(runs, "only", 0), timeout=5, interval=0.05)
    finally:
        await runtime.stop()


async def _database(database_factory, prefix: str) -> str:
    url = await database_factory(prefix, migrated="voucher_service.migrations")
    return url


def _runtime(url: str, runs: list[tuple[str, float]], name: str) -> ServiceRuntime:
    settings = ServiceSettings(environment="test", service_name="replica-test", database_url=url, run_relay=False,
                               run_consumers=False, run_periodic=True, leader_check_seconds=0.1)

    async def job(_sessionmaker) -> None:
        runs.append((name, asyncio.get_running_loop().time()))

    return ServiceRuntime(settings, kit_tables, consumers=[], periodic=[PeriodicJob("tick", PERIOD, job)])


async def _leaders(*runtimes: ServiceRuntime) -> list[ServiceRuntime]:
    return [r for r in runtimes if r.leadership is not None and r.leadership.is_leader]


async def test_periodic_job_runs_once_per_period_and_the_other_replica_takes_over(database_factory) -> None:
    if chosen_backend() != "postgres":  # SQLite: the test above
        pytest.skip("replicas share a PostgreSQL database (leader lock); CI always runs this on PostgreSQL")
    url = await _database(database_factory, "replicas")
    runs: list[tuple[str, float]] = []
    a, b = _runtime(url, runs, "a"), _runtime(url, runs, "b")
    await a.start()
    await b.start()
    samples: list[int] = []
    sampling = True

    async def sample() -> None:  # never two leaders at once
        while sampling:
            samples.append(len(await _leaders(a, b)))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        await eventually(lambda: _count_leaders(a, b, 1), timeout=10, interval=0.02)
        leader, follower = (a, b) if a.leadership.is_leader else (b, a)  # type: ignore[union-attr]
        runs.clear()
        await asyncio.sleep(2.0)
        window = list(runs)
        # one process ran the job, once per period: 2 s / 0.2 s = 10 runs (±1 for the window's edges)
        assert {name for name, _ in window} == {"a" if leader is a else "b"}
        assert 9 <= len(window) <= 11, window

        # the leader's lock connection dies (what a kill -9 of the process does to it)
        async with make_engine(url).connect() as conn:
            killed = await conn.scalar(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
        assert killed == 1
        await eventually(lambda: _count_leaders(a, b, 1), timeout=10, interval=0.02)
        # then the leader stops for good: the follower takes over within a few checks
        current = (await _leaders(a, b))[0]
        other = b if current is a else a
        await current.stop()
        stopped = asyncio.get_running_loop().time()
        await eventually(lambda: _is_leader(other), timeout=5, interval=0.02)
        took_over = asyncio.get_running_loop().time() - stopped
        assert took_over < 1.0
        other_name = "a" if other is a else "b"
        await eventually(lambda: _ran_after(runs, other_name, stopped), timeout=5, interval=0.05)
        assert max(samples) == 1
        assert other.leadership.terms >= 1  # type: ignore[union-attr]
    finally:
        sampling = False
        await sampler
        await a.stop()
        await b.stop()


async def _count_leaders(a: ServiceRuntime, b: ServiceRuntime, n: int) -> bool:
    return len(await _leaders(a, b)) == n


async def _is_leader(r: ServiceRuntime) -> bool:
    return r.leadership is not None and r.leadership.is_leader


async def _ran_after(runs: list[tuple[str, float]], name: str, moment: float) -> bool:
    return any(n == name and t > moment for n, t in runs)


class _SlowProducer:
    """Records every send in one list shared by both relays; each send's acknowledgement takes a moment, so two
    relays not kept apart would both read the same pending rows and publish them twice."""

    def __init__(self, sent: list[int], relay: str, by_relay: dict[str, int]) -> None:
        self.sent, self.relay, self.by_relay = sent, relay, by_relay

    async def send(self, topic: str, value: bytes, key: bytes, headers: list) -> asyncio.Future:
        self.sent.append(int(value))
        self.by_relay[self.relay] = self.by_relay.get(self.relay, 0) + 1
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.002, future.set_result, None)
        return future


async def test_two_relays_on_one_database_publish_each_row_once_in_order(database_factory) -> None:
    if chosen_backend() != "postgres":
        pytest.skip("the relay lock between replicas is PostgreSQL's; CI always runs this on PostgreSQL")
    url = await _database(database_factory, "relays")
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rows = 600
    async with sessions() as session:
        now = utcnow()
        await session.execute(kit_tables.outbox.insert(), [
            dict(event_id=str(uuid.uuid4()), event_type="test.v1", topic="t", partition_key=f"k{n % 7}",
                 body=str(n).encode(), created_at=now, attempts=0) for n in range(1, rows + 1)])
        await session.commit()
    sent: list[int] = []
    by_relay: dict[str, int] = {}
    relays = [OutboxRelay("replica-test", kit_tables, sessions, _SlowProducer(sent, name, by_relay), batch_size=50,
                          poll_seconds=0.01, linger_seconds=0.001) for name in ("a", "b")]
    tasks = [asyncio.create_task(r.run_forever()) for r in relays]
    try:
        async def all_published() -> bool:
            async with sessions() as session:
                return await session.scalar(select(func.count()).select_from(kit_tables.outbox)
                                            .where(kit_tables.outbox.c.published_at.is_(None))) == 0
        await eventually(all_published, timeout=30, interval=0.05)
    finally:
        for r in relays:
            r.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
    assert sent == list(range(1, rows + 1))  # once each, in seq order across both relays
    assert sum(by_relay.values()) == rows
