"""Settlement quarter benchmark (issue 20): one quarter of eligible claims declared, verified, approved, exported
and paid through the subsidy service's settlement handlers, on PostgreSQL.

    python -m bench.settlement --claims 100000 --payees 50 [--sample-share 0.05] [--json out.json]

In one run, on one fresh PostgreSQL database (created here, migrated with the subsidy service's Alembic chain,
dropped at the end), inside one process (the service's app and engine started as the tests start them; relay,
consumers and periodic jobs off):
1. seeding, bulk SQL (`generate_series`, not timed as a step): `--payees` training institutions (`payees` rows
   with their names), `--claims` training claims in state `eligible` with `eligible_at` in 2023 Q3 spread evenly
   over the payees, each with its chain (real-name verdict accepted) and its completion and certificate facts
   (the evidence a declaration freezes), classes of 20 with their class facts; then each payee's bank account
   registered through `handlers.payees.register_account` and the year's funds allocated through
   `handlers.funds.allocate` (职业技能专账资金 60 % of the total, 就业补助资金 the rest and a margin, so the batch
   splits a claim across two funds, P6); ANALYZE;
2. baselines, same run, same engine: the seeding itself, and one SELECT of the N claims with their chains (what
   a declaration reads at the least, SQLAlchemy Core, every row fetched);
3. the steps, each timed with this process's peak RSS (psutil, sampled every 20 ms), calling the handlers with
   the role the API would give (skillkit.auth.Principal), one transaction per API call:
   - declare: per payee, a training_org user opens the 2023 Q3 declaration (gathers and freezes the claims) and
     submits it (the evidence sample is drawn on submission);
   - verify: per declaration, bureau staff approve the unflagged lines, check every sampled line (in one call,
     `POST …/evidence-checks`; `--check-per-line` makes it one call per line, `…/lines/{id}/evidence-check`), and
     verify it;
   - approve: finance approves one payment batch over every declaration (funds reserved in P6 order);
   - export: the bank payment file (`handlers.payments.payment_file`) written as CSV (`bank_files.to_csv`);
   - import: the bank's result file, every line paid (built with `bank_files.answer_rows` — the bank's work,
     timed apart and not counted), imported with `handlers.payments.import_answer`.
4. checks, exact: every claim paid, the batch total equal to the seeded amounts' sum to the fen, the funds' paid
   equal to it and nothing left reserved, one `subsidy.claim_paid.v1` outbox event per claim.

Target (issue 20): the whole quarter < 60 s and < 500 MB peak RSS at 100,000 claims on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import pstats
import resource
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import psutil
from sqlalchemy import event, func, select, text

from bench.common import MIB, PeakRss
from skillkit.auth import Principal, Role
from skillkit.pii import PiiCipher
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database
from subsidy_service.adapters import bank_files
from subsidy_service.adapters.models import ChainRow, Claim
from subsidy_service.adapters.settlement_models import ClaimPayment, DeclarationLine, Fund, PaymentBatch
from subsidy_service.config import SubsidySettings
from subsidy_service.handlers import funds as fund_handlers
from subsidy_service.handlers import payees as payee_handlers
from subsidy_service.handlers.declarations import open_declaration, submit_declaration
from subsidy_service.handlers.payments import approve_batch, import_answer, payment_file
from subsidy_service.handlers.verification import approve_unflagged, check_sample, check_samples, verify_declaration
from subsidy_service.main import create

TARGET_SECONDS = 60.0
TARGET_RSS_MIB = 500.0
YEAR, QUARTER = 2023, 3  # the policy table seeded by default is 2023's (S1 flags read it)
NOW = datetime(2023, 10, 12, 2, 0, tzinfo=timezone.utc)  # 10:00 Beijing, after the quarter, far from P5
CLASS_SIZE = 20
STEPS = ("declare", "verify", "approve", "export", "import")

FINANCE = Principal("finance-bench", Role.FINANCE)
BUREAU = Principal("bureau-bench", Role.BUREAU)


@dataclass(frozen=True)
class Config:
    claims: int = 100_000
    payees: int = 50
    sample_share: Decimal = Decimal("0.05")
    check_per_line: bool = False
    analyze_between: bool = True  # ANALYZE between steps (untimed): what autovacuum does in the days between them
    profile: Path | None = None  # cProfile of the timed steps, one .prof per step


@dataclass
class Step:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float  # this process (the handlers, SQLAlchemy, asyncpg)
    db_cpu_seconds: float  # the PostgreSQL backends serving the benchmark's database
    statements: int
    detail: dict[str, Any] = field(default_factory=dict)
    top_statements: list[tuple[str, int, float]] = field(default_factory=list)  # (statement, count, seconds)
    db_cpu_lower_bound: bool = False  # a backend exited during the step: its share is missing


class Statements:
    """Counts and times the statements the engine executes, grouped by their first words (the diagnosis of a slow
    step: where the database time goes). An executemany counts once."""

    def __init__(self, engine: Any) -> None:
        self.by_key: dict[str, list[float]] = {}
        self._started: dict[int, float] = {}
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        elapsed = time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())
        key = " ".join(statement.split())[:90]
        entry = self.by_key.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += elapsed

    def snapshot(self) -> dict[str, tuple[int, float]]:
        return {k: (int(v[0]), v[1]) for k, v in self.by_key.items()}

    def since(self, before: dict[str, tuple[int, float]]) -> tuple[int, list[tuple[str, int, float]]]:
        now = self.snapshot()
        diff = [(k, n - before.get(k, (0, 0.0))[0], t - before.get(k, (0, 0.0))[1]) for k, (n, t) in now.items()]
        diff = [d for d in diff if d[1]]
        return sum(d[1] for d in diff), [(k, n, round(t, 2)) for k, n, t in sorted(diff, key=lambda d: -d[2])[:6]]


def database_cpu(database: str) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend connected to this database, by pid. A step's database
    CPU is the growth of the backends alive at its end (a backend that exits during the step takes its share with
    it: the figure is then a lower bound, marked in the report)."""
    found: dict[int, float] = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if cmdline.startswith("postgres:") and f" {database} " in f"{cmdline} ":
                times = proc.cpu_times()
                found[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return found


def cpu_growth(before: dict[int, float], after: dict[int, float]) -> tuple[float, bool]:
    """(CPU seconds the backends spent between the two snapshots, whether a backend exited meanwhile)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()), bool(set(before) - set(after))


def amount_of(i: int) -> Decimal:
    """The i-th claim's amount (1-based): 300.00 … 1000.00 yuan, fen included, the same formula as the SQL."""
    return Decimal(30000 + (i * 7919) % 70001) / 100


def expected_total(claims: int) -> Decimal:
    return sum((amount_of(i) for i in range(1, claims + 1)), Decimal("0.00"))


def payee_id(n: int) -> str:
    return f"I{n:03d}"


def payee_name(n: int) -> str:
    return f"临县第{n + 1}职业培训学校"


# --- seeding -------------------------------------------------------------------------------------------------

# Claim i (1..N) belongs to payee (i-1) % P and, within its payee, to class (i-1) // P // 20.
_SERIES = """WITH s AS (
    SELECT i, 'I' || lpad(((i - 1) % CAST(:payees AS integer))::text, 3, '0') AS p,
           'C' || ((i - 1) % CAST(:payees AS integer)) || '-' || ((i - 1) / CAST(:payees AS integer) / 20) AS c,
           ((30000 + (i::bigint * 7919) % 70001) / 100.0)::numeric(14, 2) AS a,
           CAST(:start AS timestamptz) + ((i - 1) % 7776000) * interval '1 second' AS e
    FROM generate_series(1, CAST(:claims AS integer)) AS i)
"""
_SEED = [
    """INSERT INTO payees (payee_type, payee_id, name, credit_code, updated_at)
       SELECT 'institution', 'I' || lpad(n::text, 3, '0'), '临县第' || (n + 1) || '职业培训学校',
              '52141000MJ' || lpad(n::text, 7, '0') || 'X', CAST(:now AS timestamptz)
       FROM generate_series(0, CAST(:payees AS integer) - 1) AS n""",
    _SERIES + """INSERT INTO claims (id, claim_type, subject_id, part, person_key, voucher_id, certificate_id,
                          institution_id, payee_type, payee_id, kind, policy_year, table_year, table_version, amount,
                          lines, rule_ids, state, missing, quota_slot, recovery_pending, created_at, updated_at,
                          eligible_at)
       SELECT gen_random_uuid(), 'training', 'V' || i, 'main', 'P' || i, 'V' || i, 'CERT' || i, p, 'institution', p,
              'inclusive', CAST(:year AS integer), CAST(:year AS integer), 1, a,
              json_build_array(json_build_object('rule_id', 'S1', 'text', '普惠制培训补贴', 'amount', a::text)),
              '["S1"]'::json, 'eligible', '[]'::json, 'inclusive', false, e, e, e
       FROM s""",
    _SERIES + """INSERT INTO chains (voucher_id, person_key, kind, policy_year, enrolment_id, class_id, institution_id,
                          certificate_id, status, links, created_at, updated_at)
       SELECT 'V' || i, 'P' || i, 'inclusive', CAST(:year AS integer), 'E' || i, c, p, 'CERT' || i, 'complete',
              json_build_array(json_build_object('name', 'realname', 'label', '实名制', 'status', 'ok',
                                                 'event_ids', json_build_array('R' || i), 'code', null, 'zh', null,
                                                 'en', null, 'note', null)), e, e
       FROM s""",
    _SERIES + """INSERT INTO facts (kind, key, event_type, event_id, event_time, person_key, voucher_id, enrolment_id,
                         class_id, institution_id, data, received_at)
       SELECT 'completed', 'E' || i, 'training.completed.v1', 'EVC' || i, e, 'P' || i, 'V' || i, 'E' || i, c, p,
              json_build_object('enrolment_id', 'E' || i, 'attended_days', 5, 'completed_on', '2023-08-15'), e
       FROM s""",
    _SERIES + """INSERT INTO facts (kind, key, event_type, event_id, event_time, person_key, voucher_id, enrolment_id,
                         class_id, institution_id, data, received_at)
       SELECT 'certificate', 'CERT' || i, 'certificate.issued.v1', 'EVT' || i, e, 'P' || i, NULL, NULL, NULL, NULL,
              json_build_object('certificate_id', 'CERT' || i, 'certificate_no', 'S' || lpad(i::text, 12, '0')), e
       FROM s""",
    """INSERT INTO facts (kind, key, event_type, event_id, event_time, person_key, voucher_id, enrolment_id, class_id,
                         institution_id, data, received_at)
       SELECT 'class', class_id, 'class.opened.v1', 'EVK' || class_id, CAST(:start AS timestamptz), NULL, NULL, NULL,
              class_id, institution_id, json_build_object('class_id', class_id, 'kind', 'inclusive', 'planned_days', 5),
              CAST(:start AS timestamptz)
       FROM (SELECT DISTINCT class_id, institution_id FROM chains) AS c""",
]


async def seed(service: Any, config: Config, cipher: PiiCipher) -> dict[str, Any]:
    start = datetime(2023, 6, 30, 16, 0, tzinfo=timezone.utc)  # 1 July 00:00 Beijing: the quarter's start
    params = {"payees": config.payees, "claims": config.claims, "year": YEAR, "start": start, "now": NOW}
    async with service.sessionmaker() as session:
        for sql in _SEED:
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            await session.execute(text(sql), used)
        await session.commit()
    async with service.sessionmaker() as session:
        for n in range(config.payees):
            owner = Principal(f"org-user-{payee_id(n)}", Role.TRAINING_ORG, payee_id(n))
            await payee_handlers.register_account(
                session, owner, cipher, "institution", payee_id(n), payee_name(n), f"62220{n:014d}",
                "中国工商银行临县支行", "吕梁市", NOW)
        total = expected_total(config.claims)
        first = (total * Decimal("0.6")).quantize(Decimal("1"))
        await fund_handlers.allocate(session, FINANCE, YEAR, "skills_special", first, "吕财社〔2023〕1号", None, NOW)
        await fund_handlers.allocate(session, FINANCE, YEAR, "employment_subsidy", total - first + 1000,
                                     "吕财社〔2023〕2号", None, NOW)
        await session.commit()
    await analyze(service)
    return {"expected_total": total}


async def analyze(service: Any) -> None:
    async with service.runtime.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))


# --- measuring -----------------------------------------------------------------------------------------------

@contextmanager
def measured(name: str, steps: dict[str, Step], profile_dir: Path | None, statements: Statements, database: str
             ) -> Iterator[dict[str, Any]]:
    detail: dict[str, Any] = {}
    profiler = cProfile.Profile() if profile_dir else None
    before = statements.snapshot()
    db_cpu = database_cpu(database)
    with PeakRss({"bench": os.getpid()}) as rss:
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        yield detail
        if profiler:
            profiler.disable()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    db_cpu, lost = cpu_growth(db_cpu, database_cpu(database))
    if profiler and profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile_dir / f"settlement-{name}.prof")
    count, top = statements.since(before)
    steps[name] = Step(round(seconds, 2), rss.mib("bench"), round(cpu_seconds, 2), round(db_cpu, 2), count, detail,
                       top, db_cpu_lower_bound=lost)


async def baseline_select(service: Any) -> tuple[float, int]:
    """The N claims with their chains, one SELECT, every row fetched (Core, no ORM objects)."""
    claims_t, chains_t = Claim.__table__, ChainRow.__table__
    stmt = (select(claims_t, chains_t.c.class_id, chains_t.c.enrolment_id, chains_t.c.links)
            .select_from(claims_t.outerjoin(chains_t, chains_t.c.voucher_id == claims_t.c.voucher_id))
            .where(claims_t.c.state == "eligible").order_by(claims_t.c.id))
    started = time.perf_counter()
    async with service.sessionmaker() as session:
        count = len((await session.execute(stmt)).all())
    return time.perf_counter() - started, count


# --- the quarter ---------------------------------------------------------------------------------------------

async def run(config: Config) -> dict[str, Any]:
    url = await create_pg_database("benchsettle")
    try:
        settings = SubsidySettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                                   run_periodic=False, log_level="WARNING",
                                   verification_sample_share=config.sample_share)
        async with running_service(create, settings, "subsidy_service.migrations") as service:
            return await _quarter(service, settings, config, url.rsplit("/", 1)[1])
    finally:
        await drop_pg_database(url)


async def _quarter(service: Any, settings: SubsidySettings, config: Config, database: str) -> dict[str, Any]:
    cipher = PiiCipher(settings.pii_encryption_key)
    load_before = os.getloadavg()
    started = time.perf_counter()
    seeded = await seed(service, config, cipher)
    seed_s = time.perf_counter() - started
    select_s, selected = await baseline_select(service)
    assert selected == config.claims, f"baseline selected {selected} claims"
    maker = service.sessionmaker
    steps: dict[str, Step] = {}
    statements = Statements(service.runtime.engine)
    analyze_s = 0.0

    async def between_steps() -> None:
        """The steps of a quarter are days apart, and autovacuum analyses the tables changed by one before the
        next: the planner then knows how many claims are `declared` or `verified`. Without it, right after a step
        that moved 100,000 claims, it estimates one row and picks nested loops that never end (BENCHMARKS.md)."""
        nonlocal analyze_s
        if config.analyze_between:
            started = time.perf_counter()
            await analyze(service)
            analyze_s += time.perf_counter() - started
    measure_with = config.profile, statements, database

    with measured("declare", steps, *measure_with) as d:
        declaration_ids, lines = [], 0
        for n in range(config.payees):
            owner = Principal(f"org-user-{payee_id(n)}", Role.TRAINING_ORG, payee_id(n))
            async with maker() as session:
                declaration, _ = await open_declaration(session, owner, ("institution", payee_id(n)), YEAR, QUARTER,
                                                        config.sample_share, NOW)
                declaration_ids.append(declaration.id)
                lines += declaration.line_count
                await session.commit()
            async with maker() as session:
                await submit_declaration(session, owner, declaration_ids[-1], NOW)
                await session.commit()
        d.update(declarations=len(declaration_ids), lines=lines)
    await between_steps()

    with measured("verify", steps, *measure_with) as d:
        approved = checked = 0
        checks_s = 0.0  # the evidence checks alone: one decision per sampled line, made by hand in real life
        for declaration_id in declaration_ids:
            async with maker() as session:
                approved += await approve_unflagged(session, BUREAU, declaration_id, NOW)
                await session.commit()
            async with maker() as session:  # the bureau's list of sampled lines (GET …/lines?sampled=true)
                sampled = list(await session.scalars(select(DeclarationLine.id).where(
                    DeclarationLine.declaration_id == declaration_id, DeclarationLine.sampled)
                    .order_by(DeclarationLine.line_no)))
            checks_started = time.perf_counter()
            if config.check_per_line:
                for line_id in sampled:
                    async with maker() as session:
                        await check_sample(session, BUREAU, declaration_id, line_id, "材料齐全", NOW)
                        await session.commit()
            else:  # POST …/evidence-checks: the declaration's sampled lines in one call
                async with maker() as session:
                    await check_samples(session, BUREAU, declaration_id, [(i, "材料齐全") for i in sampled], NOW)
                    await session.commit()
            checked += len(sampled)
            checks_s += time.perf_counter() - checks_started
            async with maker() as session:
                await verify_declaration(session, BUREAU, declaration_id, NOW)
                await session.commit()
        d.update(approved_lines=approved, sampled_checked=checked, sample_checks_s=round(checks_s, 2))
    await between_steps()

    with measured("approve", steps, *measure_with) as d:
        async with maker() as session:
            batch = await approve_batch(session, FINANCE, declaration_ids, settings.payment_purpose, NOW)
            batch_id, reference = batch.id, batch.reference
            d.update(total=str(batch.total), transfers=batch.transfer_count, claims=batch.claim_count,
                     draws=[{"code": x["code"], "amount": x["amount"]} for x in batch.draws])
            await session.commit()
    await between_steps()

    with measured("export", steps, *measure_with) as d:
        async with maker() as session:
            file = await payment_file(session, FINANCE, batch_id, cipher, (
                settings.payer_account_number, settings.payer_account_name, settings.payer_bank),
                settings.payment_purpose, NOW)
            await session.commit()
        exported = bank_files.to_csv(file.rows())
        d.update(csv_bytes=len(exported), lines=len(file.lines))

    bank_started = time.perf_counter()  # the bank's work: not the platform's, not counted
    answer = bank_files.to_csv(bank_files.answer_rows(reference, [
        (seq, account, name, amount, "paid", None) for seq, account, name, amount, _, _ in file.lines]))
    bank_s = time.perf_counter() - bank_started

    with measured("import", steps, *measure_with) as d:
        async with maker() as session:
            summary = await import_answer(session, FINANCE, batch_id, f"{reference}-result.csv", answer, False, NOW)
            await session.commit()
        d.update(paid=summary["paid"], paid_amount=summary["paid_amount"], failed=summary["failed"])

    checks = await _checks(service, batch_id)
    total_s = round(sum(s.seconds for s in steps.values()), 2)
    peak = max(s.peak_rss_mib for s in steps.values())
    return {
        "config": {"claims": config.claims, "payees": config.payees, "sample_share": str(config.sample_share),
                   "check_per_line": config.check_per_line, "analyze_between": config.analyze_between,
                   "year": YEAR, "quarter": QUARTER},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 1) for x in load_before],
                    "load_average_after": [round(x, 1) for x in os.getloadavg()]},
        "baseline": {"seed_s": round(seed_s, 2), "select_claims_s": round(select_s, 2)},
        "steps": {name: asdict(step) for name, step in steps.items()},
        "bank_answer_build_s": round(bank_s, 2),
        "analyze_between_s": round(analyze_s, 2),
        "total_s": total_s,
        "cpu_s": round(sum(s.cpu_seconds for s in steps.values()), 2),
        "db_cpu_s": round(sum(s.db_cpu_seconds for s in steps.values()), 2),
        "peak_rss_mib": peak,
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB, 1),
        "target": {"seconds": TARGET_SECONDS, "rss_mib": TARGET_RSS_MIB, "seconds_met": total_s < TARGET_SECONDS,
                   "rss_met": peak < TARGET_RSS_MIB},
        "expected_total": str(seeded["expected_total"]),
        "checks": checks,
    }


async def _checks(service: Any, batch_id: uuid.UUID) -> dict[str, Any]:
    async with service.sessionmaker() as session:
        states = dict((await session.execute(select(Claim.state, func.count()).group_by(Claim.state))).all())
        batch = await session.get(PaymentBatch, batch_id)
        funds = list(await session.scalars(select(Fund).order_by(Fund.code)))
        payments = dict((await session.execute(
            select(ClaimPayment.state, func.count()).group_by(ClaimPayment.state))).all())
        claims_sum = await session.scalar(select(func.sum(Claim.amount)).where(Claim.state == "paid"))
        paid_events = await session.scalar(
            text("SELECT count(*) FROM outbox WHERE event_type = 'subsidy.claim_paid.v1'"))
    return {
        "claim_states": states,
        "payment_states": payments,
        "batch_state": batch.state,
        "batch_total": str(batch.total),
        "paid_claims_sum": str(claims_sum),
        "funds": {f.code: {"allocated": str(f.allocated), "reserved": str(f.reserved), "paid": str(f.paid)}
                  for f in funds},
        "funds_paid": str(sum((f.paid for f in funds), Decimal("0.00"))),
        "funds_reserved": str(sum((f.reserved for f in funds), Decimal("0.00"))),
        "claim_paid_events": paid_events,
    }


def render(report: dict[str, Any]) -> str:
    c, m, b = report["config"], report["machine"], report["baseline"]
    lines = [
        f"settlement quarter: {c['claims']} eligible claims over {c['payees']} payees, {c['year']} Q{c['quarter']}, "
        f"evidence sample {c['sample_share']} (checks in one transaction "
        f"{'each' if c['check_per_line'] else 'per declaration'}), "
        f"PostgreSQL, one process, {m['cpus']} CPUs, load average {m['load_average_before'][0]} before / "
        f"{m['load_average_after'][0]} after",
        f"baseline: seeding {b['seed_s']} s (bulk SQL + accounts + allocations + ANALYZE); "
        f"SELECT of the {c['claims']} claims with their chains {b['select_claims_s']} s",
        f"{'step':<10}{'seconds':>9}{'CPU s':>8}{'DB CPU s':>10}{'SQL':>8}{'peak RSS MiB':>14}  detail",
    ]
    for name, s in report["steps"].items():
        detail = ", ".join(f"{k} {v}" for k, v in s["detail"].items() if k != "draws")
        db = f"{'≥' if s['db_cpu_lower_bound'] else ''}{s['db_cpu_seconds']}"
        lines.append(f"{name:<10}{s['seconds']:>9}{s['cpu_seconds']:>8}{db:>10}{s['statements']:>8}"
                     f"{s['peak_rss_mib']:>14}  {detail}")
    t = report["target"]
    lines.append(f"{'total':<10}{report['total_s']:>9}{report['cpu_s']:>8}{report['db_cpu_s']:>10}{'':>8}"
                 f"{report['peak_rss_mib']:>14}  "
                 f"(target < {t['seconds']:.0f} s: {'met' if t['seconds_met'] else 'MISSED'}; "
                 f"< {t['rss_mib']:.0f} MB peak RSS: {'met' if t['rss_met'] else 'MISSED'}); "
                 f"process max RSS (the baseline SELECT included) {report['process_max_rss_mib']} MiB; "
                 f"not counted: the bank's answer built in "
                 f"{report['bank_answer_build_s']} s, ANALYZE between steps "
                 + (f"{report['analyze_between_s']} s" if c["analyze_between"] else "off"))
    k = report["checks"]
    lines.append(f"checks: claims {k['claim_states']}, payments {k['payment_states']}, batch {k['batch_state']} "
                 f"total {k['batch_total']} (seeded {report['expected_total']}), funds paid {k['funds_paid']} "
                 f"reserved {k['funds_reserved']}, claim_paid events {k['claim_paid_events']}")
    lines.append("funds: " + "; ".join(f"{code} allocated {f['allocated']} paid {f['paid']}"
                                        for code, f in k["funds"].items()))
    if report["config"].get("show_statements"):
        for name, s in report["steps"].items():
            lines.append(f"{name}: slowest statements (count, seconds of wall time in execute)")
            lines += [f"    {n:>6} {t:>8}  {key}" for key, n, t in s["top_statements"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=100_000, help="eligible claims in the quarter (default 100000)")
    parser.add_argument("--payees", type=int, default=50, help="training institutions (default 50)")
    parser.add_argument("--sample-share", type=Decimal, default=Decimal("0.05"),
                        help="evidence sample share (default 0.05, the service's default)")
    parser.add_argument("--check-per-line", action="store_true",
                        help="one transaction per sampled-line check, as the API does")
    parser.add_argument("--no-analyze", action="store_true",
                        help="no ANALYZE between steps (as if the steps followed each other within minutes)")
    parser.add_argument("--statements", action="store_true", help="print each step's slowest statements")
    parser.add_argument("--profile", type=Path, help="write a cProfile .prof per step into this directory")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    report = asyncio.run(run(Config(args.claims, args.payees, args.sample_share, args.check_per_line,
                                    not args.no_analyze, args.profile)))
    report["config"]["show_statements"] = args.statements
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
