"""In-process CPU measurement of the voucher service's hot paths (no broker, no HTTP server process).

    .venv/bin/python -m bench.voucher_cpu [--chains 200] [--batch 20] [--roster-rows 200] [--repeat 3] [--trace]
    .venv/bin/python -m bench.voucher_cpu --pipeline [--chains 400] [--class-size 20] [--parallel-classes 8]

On a fresh PostgreSQL database (created and dropped here) the voucher app runs in this process with relay,
consumers and periodic jobs off, driven through its ASGI client and its `EventProcessor`:
- registration and the single claim (`POST /v1/workers`, `POST /v1/vouchers/claim`), per request;
- the lifecycle consumer, per event, in batches of `--batch` events of one type (as one partition's batch
  reaches `EventProcessor.apply_batch`): training.enrolled, training.started, training.completed, certificate.issued, and a type the
  service does not handle (evaluation.result_recorded);
- the kit's floor for comparison: the same batches through an `EventProcessor` whose handler does nothing;
- a roster of `--roster-rows` rows (`POST /v1/batches/{id}/roster`), per row, `--repeat` times.
With `--pipeline`, the service's part of the pipeline benchmark's chain instead, per chain: classes of
`--class-size` issued in bulk (`POST /v1/batches` + roster), then their events as the consumer gets them, polls of
up to 200 records taken round-robin from `--parallel-classes` classes in flight, each class's records in its
order: training.enrolled, training.started, training.completed, certificate.issued, and subsidy.claim_eligible ×2
(not handled). The relay and the broker client are not in it.
CPU is this process's `time.process_time()` (the database server's CPU is not in it); statements are counted
on the engine (`before_cursor_execute`: one per round trip, an executemany counts once). Event parsing is the
kit's and the same either way, so envelopes are built before the clock starts. To compare with an older
version, run the same command with `PYTHONPATH=<that version's voucher-service/src>` (e.g. from `git archive`)
(older versions consumed training.checked_in, once per trainee-day, instead of training.started).

    .venv/bin/python -m bench.voucher_cpu --processes [--rate 80] [--seconds 20] [--rounds 2]

With `--processes`, what the in-process modes leave out: the voucher and certification services as the pipeline
runs them (one uvicorn process each, relay and consumers on, a Tansu broker, fresh PostgreSQL databases), CPU of
each process (psutil) while idle (10 s, after 15 s to settle), then per chain under a stream of the records their
consumers get in the pipeline: per class of 20, sent at once every 20 / `--rate` s, 20 training.started (handled,
for vouchers it does not know: a transaction, no event), 40 subsidy.claim_eligible and 20
evaluation.result_recorded (passed over by header) and 20 voucher.issued (handled by its notification consumer) for
the voucher service; 20 worker.registered (handled) and 40 voucher.issued / voucher.bound (passed over) for the
certification service. The clock stops when every handled
record is in the inbox. Variants are settings (environment) compared in alternation, `--rounds` times each:
the kit's 50 ms fetch wait against the services' own defaults, or `--variants '{"name": {"SKILLS_…": "…"}}'`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, select

from skillkit.consumer import EventProcessor
from skillkit.contracts.certification import CertificateIssued, EvaluationResultRecorded
from skillkit.contracts.training import TrainingCompleted, TrainingEnrolled, TrainingStarted
from skillkit.db import utcnow
from skillkit.events import Envelope, EventPayload
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database
from stdnum.cn import ric

from voucher_service.adapters.models import Voucher, kit_tables
from voucher_service.config import VoucherSettings
from voucher_service.consumers import CONSUMER_NAME
from voucher_service.main import create

OCCUPATION = "4-10-01-05"


def resident_id(n: int) -> str:
    """A distinct valid number per n: Lin County's region code since 2003 (births 2003-01-01 + n // 900 weeks)."""
    birth = date(2003, 1, 1) + timedelta(days=(n // 900) * 7)
    body = f"141124{birth:%Y%m%d}{100 + n % 900:03d}"
    return body + ric.calc_check_digit(body + "0")


def enrolment_of(voucher: dict[str, Any]) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, voucher["id"]))


def envelope(payload: EventPayload, key: str) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=payload.__event_type__, source="/bench", time=utcnow(), subject=None,
                    partition_key=key, correlation_id=None, causation_id=None, data=payload)


class Statements:
    def __init__(self, engine: Any, trace: bool) -> None:
        self.count = 0
        self.trace = trace
        event.listen(engine.sync_engine, "before_cursor_execute", self._one)

    def _one(self, _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        self.count += 1
        if self.trace:
            print(("executemany: " if executemany else "") + " ".join(statement.split())[:160])


class Meter:
    def __init__(self, statements: Statements) -> None:
        self.statements = statements
        self.rows: list[tuple[str, int, float, float]] = []

    async def measure(self, label: str, units: int, work: Any) -> None:
        if self.statements.trace:
            print(f"--- {label}")
        s0, c0 = self.statements.count, time.process_time()
        await work()
        cpu, stmts = time.process_time() - c0, self.statements.count - s0
        self.rows.append((label, units, cpu * 1000 / units, stmts / units))

    def print(self) -> None:
        print(f"{'what':<44} {'units':>6} {'CPU ms/unit':>12} {'statements/unit':>16}")
        for label, units, ms, stmts in self.rows:
            print(f"{label:<44} {units:>6} {ms:>12.2f} {stmts:>16.2f}")


async def run(args: argparse.Namespace) -> None:
    url = await create_pg_database("bench_voucher_cpu")
    settings = VoucherSettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                               run_periodic=False)
    try:
        async with running_service(create, settings, "voucher_service.migrations") as vs:
            meter = Meter(Statements(vs.runtime.engine, args.trace))
            if args.pipeline:
                await pipeline(vs, meter, args)
            else:
                await lifecycle(vs, meter, args)
                await roster(vs, meter, args)
            meter.print()
    finally:
        await drop_pg_database(url)


async def lifecycle(vs: Any, meter: Meter, args: argparse.Namespace) -> None:
    n = args.chains
    subs = [f"bench-{i}" for i in range(n)]

    async def register() -> None:
        for i, sub in enumerate(subs):
            r = await vs.client.post("/v1/workers", headers=vs.headers("worker", sub=sub), json={
                "name": "张三丰", "id_number": resident_id(i), "mobile": "13812345678", "township": "临泉镇",
                "categories": ["rural_migrant"]})
            assert r.status_code == 201, r.text

    vouchers: list[dict[str, Any]] = []

    async def claim() -> None:
        for sub in subs:
            r = await vs.client.post("/v1/vouchers/claim", headers=vs.headers("worker", sub=sub), json={"kind": "inclusive"})
            assert r.status_code == 201, r.text
            vouchers.append(r.json())

    await meter.measure("POST /v1/workers (per request)", n, register)
    await meter.measure("POST /v1/vouchers/claim (per request)", n, claim)
    async with vs.sessionmaker() as session:
        keys = dict((str(i), k) for i, k in await session.execute(select(Voucher.id, Voucher.person_key)))
    processor = vs.runtime.processors[CONSUMER_NAME]

    def per_voucher(make: Any) -> list[tuple[EventPayload, str]]:
        return [(make(v, keys[v["id"]]), keys[v["id"]]) for v in vouchers]

    async def timed(label: str, payloads: list[tuple[EventPayload, str]]) -> None:
        envelopes = [envelope(p, k) for p, k in payloads]

        async def work() -> None:
            for start in range(0, len(envelopes), args.batch):
                await processor.apply_batch(envelopes[start:start + args.batch])

        await meter.measure(label, len(envelopes), work)

    floor = EventProcessor("bench-floor", {"evaluation.result_recorded.v1": _nothing}, vs.sessionmaker, kit_tables)
    floor_events = [envelope(EvaluationResultRecorded(evaluation_id="ev", candidate_id=v["id"], person_key=keys[v["id"]],
                                                      passed=True), keys[v["id"]]) for v in vouchers]

    async def floor_work() -> None:
        for start in range(0, len(floor_events), args.batch):
            await floor.apply_batch(floor_events[start:start + args.batch])

    await meter.measure("kit floor: inbox + commit, handler does nothing", n, floor_work)
    await timed("training.enrolled (per event)", per_voucher(lambda v, pk: TrainingEnrolled(
        enrolment_id=enrolment_of(v), class_id="c-1", institution_id="org-1", voucher_id=v["id"], person_key=pk,
        kind="inclusive", occupation_code=OCCUPATION, level=5, class_start=date(2026, 12, 1),
        class_end=date(2026, 12, 8))))
    await timed("training.started (per event)", per_voucher(lambda v, pk: TrainingStarted(
        enrolment_id=enrolment_of(v), voucher_id=v["id"], class_id="c-1", person_key=pk,
        first_day=date(2026, 12, 1), checked_at=utcnow())))
    await timed("training.completed (per event)", per_voucher(lambda v, pk: TrainingCompleted(
        enrolment_id=enrolment_of(v), voucher_id=v["id"], class_id="c-1", person_key=pk, attended_days=5,
        passed=True, completed_on=date(2026, 12, 8))))
    await timed("certificate.issued (per event)", per_voucher(lambda v, pk: CertificateIssued(
        certificate_id=str(uuid.uuid5(uuid.NAMESPACE_OID, "cert" + v["id"])), certificate_no="N1", person_key=pk, certificate_type="skill_level",
        occupation_code=OCCUPATION, level=5, issued_on=date(2026, 12, 20), institution_id="ev-1",
        evaluation_id="ev")))
    await timed("evaluation.result_recorded (not handled)", per_voucher(lambda v, pk: EvaluationResultRecorded(
        evaluation_id="ev", candidate_id=v["id"], person_key=pk, passed=True)))
    async with vs.sessionmaker() as session:
        statuses = list(await session.scalars(select(Voucher.status)))
    assert statuses == ["certified"] * n, sorted(set(statuses))


async def roster(vs: Any, meter: Meter, args: argparse.Namespace) -> None:
    staff = vs.headers("bureau", sub="staff-1")
    for attempt in range(args.repeat):
        base = 90_000 + attempt * 9_000
        lines = ["姓名,身份证号,手机号,乡镇,人员类别"] + [
            f"王五,{resident_id(base + i)},138{i:08d},临泉镇,rural_migrant" for i in range(args.roster_rows)]
        content = "\n".join(lines).encode()
        r = await vs.client.post("/v1/batches", json={"name": "普惠班", "kind": "inclusive", "validity_days": 90},
                                 headers=staff)
        batch_id = r.json()["id"]
        result: dict[str, Any] = {}

        async def upload() -> None:
            resp = await vs.client.post(f"/v1/batches/{batch_id}/roster", files={"file": ("r.csv", content)},
                                        headers=staff)
            assert resp.status_code == 201, resp.text
            result.update(resp.json())

        await meter.measure(f"roster upload, run {attempt + 1} (per row)", args.roster_rows, upload)
        assert result["issued"] == args.roster_rows, result["row_errors"][:3]


async def pipeline(vs: Any, meter: Meter, args: argparse.Namespace) -> None:
    staff = vs.headers("bureau", sub="staff-1")
    size, classes = args.class_size, args.chains // args.class_size
    issued: list[list[dict[str, Any]]] = []

    async def issue() -> None:
        for c in range(classes):
            r = await vs.client.post("/v1/batches", json={"name": "普惠班", "kind": "inclusive", "validity_days": 120},
                                     headers=staff)
            lines = ["姓名,身份证号,手机号,乡镇,人员类别"] + [
                f"王五,{resident_id(c * size + i)},138{i:08d},临泉镇,rural_migrant" for i in range(size)]
            resp = await vs.client.post(f"/v1/batches/{r.json()['id']}/roster",
                                        files={"file": ("r.csv", "\n".join(lines).encode())}, headers=staff)
            assert resp.status_code == 201 and resp.json()["issued"] == size, resp.text
            issued.append(resp.json()["vouchers"])

    await meter.measure("pipeline: batch + roster, per chain", classes * size, issue)
    async with vs.sessionmaker() as session:
        keys = dict((str(i), k) for i, k in await session.execute(select(Voucher.id, Voucher.person_key)))
    streams = [[envelope(p, k) for p, k in _chain_events(vouchers, keys)] for vouchers in issued]
    polls: list[list[Envelope]] = []
    for first in range(0, classes, args.parallel_classes):  # the classes in flight together
        flight = streams[first:first + args.parallel_classes]
        step = max(1, 200 // len(flight))
        for start in range(0, max(len(s) for s in flight), step):
            polls.append([e for s in flight for e in s[start:start + step]])

    async def consume() -> None:
        for poll in polls:
            await vs.runtime.processors[CONSUMER_NAME].apply_batch(poll)

    await meter.measure(f"pipeline: consumer, {len(polls)} polls, per chain", classes * size, consume)
    async with vs.sessionmaker() as session:
        statuses = list(await session.scalars(select(Voucher.status)))
    assert statuses == ["certified"] * (classes * size), sorted(set(statuses))


def _chain_events(vouchers: list[dict[str, Any]], keys: dict[str, str]) -> list[tuple[EventPayload, str]]:
    """A class's events in the order its uploads produce them: each kind for the whole class, then the next."""
    def each(make: Any) -> list[tuple[EventPayload, str]]:
        return [(make(v, keys[v["id"]]), keys[v["id"]]) for v in vouchers]

    return [
        *each(lambda v, pk: TrainingEnrolled(
            enrolment_id=enrolment_of(v), class_id="c-1", institution_id="org-1", voucher_id=v["id"], person_key=pk,
            kind="inclusive", occupation_code=OCCUPATION, level=5, class_start=date(2026, 12, 1),
            class_end=date(2026, 12, 8))),
        *each(lambda v, pk: TrainingStarted(enrolment_id=enrolment_of(v), voucher_id=v["id"], class_id="c-1",
                                            person_key=pk, first_day=date(2026, 12, 1), checked_at=utcnow())),
        *each(lambda v, pk: TrainingCompleted(enrolment_id=enrolment_of(v), voucher_id=v["id"], class_id="c-1",
                                              person_key=pk, attended_days=5, passed=True,
                                              completed_on=date(2026, 12, 8))),
        *each(lambda v, pk: CertificateIssued(
            certificate_id=str(uuid.uuid5(uuid.NAMESPACE_OID, "cert" + v["id"])), certificate_no="N1", person_key=pk,
            certificate_type="skill_level", occupation_code=OCCUPATION, level=5, issued_on=date(2026, 12, 20),
            institution_id="ev-1", evaluation_id="ev")),
        *each(lambda v, pk: EvaluationResultRecorded(evaluation_id="ev", candidate_id=v["id"], person_key=pk,
                                                     passed=True)),  # 2 types not handled, like claim_eligible
        *each(lambda v, pk: EvaluationResultRecorded(evaluation_id="ev", candidate_id=v["id"], person_key=pk,
                                                     passed=True)),
    ]


async def _nothing(_session: Any, _envelope: Envelope) -> None:
    return None


# --- --processes: the two service processes with broker, relay and consumers --------------------------------------

PROCESS_VARIANTS = {
    "fetch wait 50 ms (the kit's default)": {"SKILLS_KAFKA_FETCH_MAX_WAIT_MS": "50"},
    "the services' defaults (voucher 200, certification 500 ms)": {},
}
PROCESS_SERVICES = (("voucher-service", "voucher_service"), ("certification-service", "certification_service"))
# A passed-over record: only its size matters, the consumer reads its type header and nothing else.
_FILLER = b'{"specversion":"1.0","type":"passed.over","data":{"k":"' + b"v" * 600 + b'"}}'


def _class_records(serial: int) -> list[tuple[str, str, bytes, str]]:
    from skillkit.contracts.topics import (
        CERTIFICATION_TOPIC,
        SUBSIDY_TOPIC,
        TOPIC_PRODUCERS,
        TRAINING_TOPIC,
        VOUCHER_TOPIC,
    )
    from skillkit.contracts.voucher import VoucherIssued, WorkerRegistered
    from skillkit.events import build_event

    records = []
    for _ in range(20):
        key = uuid.uuid4().hex
        started = TrainingStarted(enrolment_id=str(uuid.uuid4()), voucher_id=str(uuid.uuid4()), class_id=str(serial),
                                  person_key=key, first_day=date(2026, 12, 1), checked_at=utcnow())
        registered = WorkerRegistered(worker_id=str(uuid.uuid4()), person_key=key, masked_name="王*",
                                      township="临泉镇", categories=["rural_migrant"], on_behalf=True,
                                      registered_by="staff")
        for topic, payload in ((TRAINING_TOPIC, started), (VOUCHER_TOPIC, registered)):
            # as the topic's producer: consumers dead-letter any other source
            _, event_type, body = build_event(payload, source=TOPIC_PRODUCERS[topic], partition_key=key)
            records.append((topic, key, body, event_type.name))
        records += [(SUBSIDY_TOPIC, key, _FILLER, "subsidy.claim_eligible.v1")] * 2
        # voucher.issued is a real event: the voucher service's notification consumer handles it (a subscribe message
        # for a worker on the mini-program; none here), the certification service passes it over
        issued = VoucherIssued(voucher_id=str(uuid.uuid4()), code="LXNO44RBTAT", worker_id=str(uuid.uuid4()),
                               person_key=key, kind="inclusive", policy_year=2026, valid_from=utcnow(),
                               valid_until=utcnow() + timedelta(days=180), channel="bulk",
                               categories=["rural_migrant"], living_allowance_eligible=False, issued_by="staff")
        _, _, issued_body = build_event(issued, source=TOPIC_PRODUCERS[VOUCHER_TOPIC], partition_key=key)
        records += [(CERTIFICATION_TOPIC, key, _FILLER, "evaluation.result_recorded.v1"),
                    (VOUCHER_TOPIC, key, issued_body, "voucher.issued.v1"),
                    (VOUCHER_TOPIC, key, _FILLER, "voucher.bound.v1")]
    return records


async def processes(args: argparse.Namespace) -> None:
    import os
    import subprocess
    import sys

    import asyncpg
    import psutil
    from aiokafka import AIOKafkaProducer

    from bench.common import create_database, drop_database, free_port
    from skillkit.outbox import type_header
    from skillkit.tansu import TansuBroker

    broker = TansuBroker()
    broker.start()
    databases = {}
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=2)
    try:
        for name, package in PROCESS_SERVICES:
            databases[name] = await create_database(f"bench_{package}")
            subprocess.run([sys.executable, "-m", f"{package}.migrate", "upgrade"], check=True,
                           stdout=subprocess.DEVNULL,
                           env={**os.environ, "SKILLS_DATABASE_URL": databases[name].sqlalchemy_url})
        await producer.start()
        serial, handled = 0, 0
        for _ in range(args.rounds):
            for variant, extra in (json.loads(args.variants) if args.variants else PROCESS_VARIANTS).items():
                procs = {name: subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", f"{package}.main:create", "--factory", "--host", "127.0.0.1",
                     "--port", str(free_port()), "--no-access-log"],
                    env={**os.environ, "SKILLS_DATABASE_URL": databases[name].sqlalchemy_url,
                         "SKILLS_KAFKA_BOOTSTRAP": broker.bootstrap, "SKILLS_LOG_LEVEL": "WARNING", **extra},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, package in PROCESS_SERVICES}
                try:
                    cpu = {name: psutil.Process(proc.pid) for name, proc in procs.items()}

                    def now() -> dict[str, float]:
                        return {name: sum(p.cpu_times()[:2]) for name, p in cpu.items()}

                    await asyncio.sleep(15)
                    idle_from = now()
                    await asyncio.sleep(10)
                    idle = {name: (t - idle_from[name]) / 10 for name, t in now().items()}
                    classes = max(1, int(args.seconds * args.rate / 20))
                    busy_from, started = now(), time.perf_counter()
                    for c in range(classes):
                        await asyncio.sleep(max(0.0, started + c * 20 / args.rate - time.perf_counter()))
                        serial += 1
                        sent = [await producer.send(topic, value=body, key=key.encode(), headers=type_header(kind))
                                for topic, key, body, kind in _class_records(serial)]
                        await asyncio.gather(*sent)
                    handled += classes * 20
                    for _ in range(600):  # every handled record in both inboxes, or give up after a minute
                        counts = [await _inbox_rows(databases[name].dsn, asyncpg) for name, _ in PROCESS_SERVICES]
                        if counts == [handled, handled]:
                            break
                        await asyncio.sleep(0.1)
                    else:
                        raise RuntimeError(f"inboxes hold {counts}, expected {handled} each")
                    busy = {name: (t - busy_from[name]) * 1000 / (classes * 20) for name, t in now().items()}
                    print(f"{variant}: idle " + ", ".join(f"{n} {100 * v:.1f} % of a core" for n, v in idle.items())
                          + f"; {classes * 20} chains at {args.rate:g}/s: "
                          + ", ".join(f"{n} {v:.2f} ms" for n, v in busy.items()) + " CPU per chain", flush=True)
                finally:
                    for proc in procs.values():
                        proc.terminate()
                        proc.wait(20)
    finally:
        await producer.stop()
        broker.stop()
        for database in databases.values():
            await drop_database(database)


async def _inbox_rows(dsn: str, asyncpg: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        # the consumers the stream's handled records are counted for (the voucher service's notification consumer
        # also handles the voucher.issued of the stream, and is not waited for)
        return int(await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer <> 'voucher-notifications'"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--roster-rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pipeline", action="store_true", help="the pipeline benchmark's chain, per chain")
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--parallel-classes", type=int, default=8)
    parser.add_argument("--trace", action="store_true", help="print every statement (use with small counts)")
    parser.add_argument("--processes", action="store_true",
                        help="both service processes with broker, relay and consumers: idle and per chain of a stream")
    parser.add_argument("--rate", type=float, default=80, help="--processes: chains per second of the stream")
    parser.add_argument("--seconds", type=float, default=20, help="--processes: how long the stream lasts")
    parser.add_argument("--rounds", type=int, default=2, help="--processes: each variant this many times, alternating")
    parser.add_argument("--variants",
                        help='--processes: JSON {"name": {"SKILLS_...": "value"}} instead of the default pair')
    args = parser.parse_args()
    asyncio.run(processes(args) if args.processes else run(args))


if __name__ == "__main__":
    main()
