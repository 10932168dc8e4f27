"""Reconciliation: did every consumer group apply every event the producers wrote? Heal the gaps by replay.

    python -m skillkit.reconcile --database voucher-service=URL --database training-service=URL \
        --database certification-service=URL --database subsidy-service=URL [--grace 30] [--heal [--wait 120]] [--json]

For each consumer group of each service given (the groups and the event types they handle come from the service's
own runtime, `<package>.main:create()`, built with the environment's settings but not started), the expected
events are the outbox rows of every given producer on the group's topics and of a type the group handles; the
applied events are the group's inbox rows. It reports, per group and per topic partition (the partition the
producer's key hashes to, as the Kafka client's default partitioner does):

- **gaps**: published rows the group never applied (lost by a broker that forgot a topic, a consumer group whose
  offsets moved past them, a dead-lettered record, an inbox row deleted by hand);
- **in flight**: rows not yet published, or published less than `--grace` seconds ago (not gaps: the relay or the
  consumer has not had its chance yet);
- **duplicates**: an event applied twice by one group. The inbox's primary key (consumer, event_id) makes that
  impossible today; the check is there for an inbox partitioned by time, whose key must include the partition
  column and then no longer guarantees it (docs/deployment.md, retention);
- **orphans**: applied events of a type our producers write that no given outbox holds (a producer's database not
  given, or its rows deleted by retention before the consumer's).

`--heal` marks exactly the gap rows unpublished in their producer's outbox (`published_at = NULL`): the producer's
relay publishes them again, to every group; the groups that have them drop the copy (inbox). `--wait N` then
reconciles again until no gap is left or N seconds pass. The exit status is 0 only when no gap and no duplicate
is left.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable

from aiokafka.partitioner import murmur2
from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from skillkit.db import make_engine, utcnow
from skillkit.platform import SERVICES
from skillkit.tables import KitTables


@dataclass(frozen=True)
class Group:
    """A consumer group: the inbox rows of `name` in `service`'s database."""

    service: str
    name: str
    topics: frozenset[str]
    types: frozenset[str]


@dataclass
class GroupReport:
    service: str
    group: str
    expected: int = 0
    applied: int = 0
    in_flight: int = 0
    gaps: list[dict[str, Any]] = field(default_factory=list)  # producer, event_id, event_type, topic, partition, seq
    duplicates: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    gaps_by_partition: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> gaps

    @property
    def ok(self) -> bool:
        return not self.gaps and not self.duplicates

    def summary(self) -> dict[str, Any]:
        return {"service": self.service, "group": self.group, "expected": self.expected, "applied": self.applied,
                "in_flight": self.in_flight, "gaps": len(self.gaps), "duplicates": len(self.duplicates),
                "orphans": len(self.orphans), "gaps_by_partition": self.gaps_by_partition}


@dataclass
class Report:
    groups: list[GroupReport]

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.groups)

    @property
    def gaps(self) -> int:
        return sum(len(g.gaps) for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "gaps": self.gaps, "groups": [g.summary() for g in self.groups]}

    def text(self) -> str:
        lines = []
        for g in self.groups:
            s = g.summary()
            lines.append(f"{g.service:<22} {g.group:<32} expected {s['expected']:>7}  applied {s['applied']:>7}  "
                         f"in flight {s['in_flight']:>5}  gaps {s['gaps']:>5}  duplicates {s['duplicates']:>3}  "
                         f"orphans {s['orphans']:>3}" + (f"  {s['gaps_by_partition']}" if g.gaps else ""))
        lines.append("reconciled: every published event applied once by every group" if self.ok
                     else f"NOT reconciled: {self.gaps} gaps, {sum(len(g.duplicates) for g in self.groups)} duplicates")
        return "\n".join(lines)


def partition_of(key: str, partitions: int) -> int:
    """The partition the Kafka client's default partitioner sends a key to (murmur2, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def service_runtime(service: str) -> Any:
    """The service's runtime as its process would build it (settings from the environment), not started."""
    package = next(s.package for s in SERVICES if s.name == service)
    return importlib.import_module(f"{package}.main").create().state.runtime


def groups_of(service: str, runtime: Any) -> list[Group]:
    return [Group(service, spec.name, frozenset(spec.topics), frozenset(spec.by_type))
            for spec in runtime.consumer_specs]


@dataclass
class _Outbox:
    producer: str
    rows: dict[str, tuple[str, str, int, str, bool]]  # event_id -> (type, topic, seq, partition key, settled)


async def _read_outbox(producer: str, engine: AsyncEngine, tables: KitTables, grace: timedelta) -> _Outbox:
    t = tables.outbox
    cutoff = utcnow() - grace
    async with engine.connect() as conn:
        result = await conn.execute(select(t.c.event_id, t.c.event_type, t.c.topic, t.c.seq, t.c.partition_key,
                                           t.c.published_at))
        rows = {r.event_id: (r.event_type, r.topic, r.seq, r.partition_key,
                             r.published_at is not None and r.published_at <= cutoff) for r in result}
    return _Outbox(producer, rows)


async def _read_inbox(engine: AsyncEngine, tables: KitTables, group: str) -> tuple[list[str], dict[str, str]]:
    t = tables.inbox
    async with engine.connect() as conn:
        result = await conn.execute(select(t.c.event_id, t.c.event_type).where(t.c.consumer == group))
        rows = result.all()
    return [r.event_id for r in rows], {r.event_id: r.event_type for r in rows}


async def reconcile(databases: dict[str, str], *, grace_seconds: float = 0.0, partitions: int = 4,
                    runtimes: dict[str, Any] | None = None) -> Report:
    """`databases`: service name -> database URL (the services given are both producers and consumers)."""
    runtimes = runtimes or {name: service_runtime(name) for name in databases}
    engines = {name: make_engine(url) for name, url in databases.items()}
    try:
        grace = timedelta(seconds=grace_seconds)
        outboxes = [await _read_outbox(name, engines[name], runtimes[name].tables, grace) for name in databases]
        produced_types = {row[0] for o in outboxes for row in o.rows.values()}
        reports = []
        for name in databases:
            for group in groups_of(name, runtimes[name]):
                ids, types = await _read_inbox(engines[name], runtimes[name].tables, group.name)
                reports.append(_compare(group, outboxes, ids, types, produced_types, partitions))
        return Report(reports)
    finally:
        for engine in engines.values():
            await engine.dispose()


def _compare(group: Group, outboxes: list[_Outbox], applied_ids: list[str], applied_types: dict[str, str],
             produced_types: set[str], partitions: int) -> GroupReport:
    report = GroupReport(group.service, group.name)
    counts = Counter(applied_ids)
    report.duplicates = sorted(i for i, n in counts.items() if n > 1)
    applied = set(counts)
    report.applied = len(applied)
    known: set[str] = set()
    by_partition: Counter[str] = Counter()
    for outbox in outboxes:
        for event_id, (event_type, topic, seq, key, settled) in outbox.rows.items():
            if topic not in group.topics or event_type not in group.types:
                continue
            known.add(event_id)
            report.expected += 1
            if event_id in applied:
                continue
            if not settled:
                report.in_flight += 1
                continue
            partition = partition_of(key, partitions)
            by_partition[f"{topic}/{partition}"] += 1
            report.gaps.append({"producer": outbox.producer, "event_id": event_id, "event_type": event_type,
                                "topic": topic, "partition": partition, "seq": seq})
    report.gaps_by_partition = dict(sorted(by_partition.items()))
    report.orphans = sorted(i for i in applied - known if applied_types[i] in produced_types)
    return report


async def heal(report: Report, databases: dict[str, str], runtimes: dict[str, Any] | None = None) -> int:
    """Marks every gap's outbox row unpublished in its producer's database (its relay publishes it again).
    Returns how many rows were marked."""
    runtimes = runtimes or {name: service_runtime(name) for name in databases}
    by_producer: dict[str, set[str]] = defaultdict(set)
    for group in report.groups:
        for gap in group.gaps:
            by_producer[gap["producer"]].add(gap["event_id"])
    marked = 0
    for producer, ids in by_producer.items():
        engine = make_engine(databases[producer])
        try:
            marked += await mark_unpublished(engine, runtimes[producer].tables, ids)
        finally:
            await engine.dispose()
    return marked


async def mark_unpublished(engine: AsyncEngine, tables: KitTables, event_ids: Iterable[str]) -> int:
    t = tables.outbox
    ids = sorted(event_ids)
    marked = 0
    async with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            where = (t.c.event_id == any_(bindparam("ids", type_=ARRAY(String)))) if postgres \
                else t.c.event_id.in_(bindparam("ids", expanding=True))
            result = await conn.execute(update(t).where(where).values(published_at=None), {"ids": chunk})
            marked += result.rowcount or 0
    return marked


async def reconcile_and_heal(databases: dict[str, str], *, grace_seconds: float = 0.0, partitions: int = 4,
                             wait_seconds: float = 0.0, runtimes: dict[str, Any] | None = None,
                             ) -> tuple[Report, int, Report]:
    """Reconciles, heals the gaps, then reconciles again (every 2 s) until none is left or `wait_seconds` pass.
    Returns (the first report, rows marked for replay, the last report)."""
    runtimes = runtimes or {name: service_runtime(name) for name in databases}
    first = await reconcile(databases, grace_seconds=grace_seconds, partitions=partitions, runtimes=runtimes)
    marked = await heal(first, databases, runtimes) if first.gaps else 0
    last = first
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while marked and wait_seconds > 0:
        await asyncio.sleep(2)
        # no grace now: the rows just marked are unpublished (in flight) until the relay has sent them again
        last = await reconcile(databases, grace_seconds=0, partitions=partitions, runtimes=runtimes)
        if (not last.gaps and not any(g.in_flight for g in last.groups)) or loop.time() > deadline:
            break
    return first, marked, last


def _database(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or name not in {s.name for s in SERVICES}:
        raise argparse.ArgumentTypeError(f"expected SERVICE=URL with SERVICE one of {[s.name for s in SERVICES]}")
    return name, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reconcile consumer groups' inboxes with the producers' outboxes")
    parser.add_argument("--database", type=_database, action="append", required=True, metavar="SERVICE=URL")
    parser.add_argument("--grace", type=float, default=30.0,
                        help="rows published less than this many seconds ago are in flight, not gaps (default 30)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic (Tansu default 4)")
    parser.add_argument("--heal", action="store_true", help="mark the gaps' outbox rows for republishing")
    parser.add_argument("--wait", type=float, default=0.0, help="with --heal: wait up to N s for the gaps to close")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    databases = dict(args.database)

    async def run() -> tuple[Report, int, Report]:
        if args.heal:
            return await reconcile_and_heal(databases, grace_seconds=args.grace, partitions=args.partitions,
                                            wait_seconds=args.wait)
        report = await reconcile(databases, grace_seconds=args.grace, partitions=args.partitions)
        return report, 0, report

    first, marked, last = asyncio.run(run())
    if args.json:
        print(json.dumps({"before": first.as_dict(), "marked_for_replay": marked, "after": last.as_dict()}, indent=2))
    else:
        print(first.text())
        if args.heal:
            print(f"{marked} outbox rows marked for republishing")
            if last is not first:
                print(last.text())
    return 0 if last.ok else 1


if __name__ == "__main__":
    sys.exit(main())
