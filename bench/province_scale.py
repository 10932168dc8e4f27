"""A province's data (issue 18): the same measurements on empty databases and on databases holding a province.

    python -m bench.province_scale [--workers 1000000] [--events 10000000] [--chains 400] [--rate 20]
                                   [--claims 1000] [--claim-rate 50] [--pages 100] [--json out.json]

Two phases in one run, each on four fresh PostgreSQL databases (created, migrated, dropped at the end) with the
whole platform running on them (testsupport.processes: Tansu, the four services with relay, consumers and periodic jobs,
the province simulator):

- **empty**: the databases as migrated;
- **province**: before the platform starts, bulk SQL (generate_series, server-side) seeds `--workers` workers and
  vouchers in the voucher service, the training service's voucher projection, the certification service's worker
  projection, the subsidy service's persons, chains, facts and claims (bench/reports.py's shape: 1,100,000 claims
  at 1,000,000 vouchers) and its reports' read models, and `--events` event rows spread evenly over the eight
  event tables (each service's outbox, published, and inbox, under its own consumer groups), created over the last
  360 days; then VACUUM ANALYZE, as autovacuum would have done, and (both phases) a CHECKPOINT. (Dead letters
  are broker records, not rows.)

In each phase, one after the other:
1. the pipeline at `--rate` chains/s offered (bench/pipeline.py's open loop, classes of 20):
   certificate.issued → training claim eligible, p50/p99;
2. the claim API: `--claims` + 100 workers registered (POST /v1/workers), 100 warm-up claims, then `--claims`
   claims due at `--claim-rate` per second, at most 64 in flight (open loop, latency from when a claim was due);
3. the worker's own pages and the chain view for `--pages` of those workers, one request at a time: voucher
   `/v1/workers/me`, `/v1/vouchers/mine`; subsidy `/v1/me/vouchers`, `/v1/me/certificates`, `/v1/me/allowances`,
   `/v1/chains/{voucher}` as the worker and as bureau staff;
4. peak RSS of every process over 1–3 (psutil, every 250 ms), and the tables read by sequential scans during 1–3
   (pg_stat_user_tables: where an index is missing).
Then, on the province's voucher database, the retention job (skillkit.retention) deleting the events older than
300 days (a sixth of them): rows per second. It targets only 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from bench import pipeline
from bench.common import PG_ADMIN_DSN, PeakRss, create_database, drive, drop_database, percentile, summarise
from testsupport.api import Endpoints
from testsupport.processes import pids, platform_running
from bench.reports import TOWNSHIPS, _array, seed_statements
from bench.voucher_claim import register_all, worker_calls
from skillkit.platform import SERVICES as PROCESSES

SERVICES = pipeline.SERVICE_NAMES
WARMUP_CLAIMS = 100
PAGES = (
    ("voucher: /v1/workers/me", "voucher", "/v1/workers/me"),
    ("voucher: /v1/vouchers/mine", "voucher", "/v1/vouchers/mine"),
    ("subsidy: /v1/me/vouchers", "subsidy", "/v1/me/vouchers"),
    ("subsidy: /v1/me/certificates", "subsidy", "/v1/me/certificates"),
    ("subsidy: /v1/me/allowances", "subsidy", "/v1/me/allowances"),
    ("chain view, the worker", "subsidy", "/v1/chains/{voucher}"),
    ("chain view, bureau staff", "subsidy", "/v1/chains/{voucher}"),
)


# --- seeding -----------------------------------------------------------------------------------------------------


def entity_statements(service: str, n: int) -> list[tuple[str, str]]:
    """The workers and vouchers as each service holds them; person P<i>, worker and voucher ids derived from i."""
    townships = _array(TOWNSHIPS)
    created = "(timestamptz '2023-01-01 02:00+00' + (i % 365) * interval '1 day')"
    status = ("CASE WHEN i % 100 < 15 THEN 'redeemed' WHEN i % 100 < 45 THEN 'certified' WHEN i % 100 < 65 "
              "THEN 'completed' WHEN i % 100 < 80 THEN 'in_training' ELSE 'expired' END")
    if service == "voucher-service":
        return [
            ("workers", f"""INSERT INTO workers (id, account_subject, name, id_number_encrypted, id_blind_index,
                person_key, birth_date, mobile_encrypted, township, categories, on_behalf, registered_by, created_at)
                SELECT md5('w' || i)::uuid, 'seed-worker-' || i, '张三', 'seed', md5('b' || i), 'P' || i,
                  date '1970-01-01' + i % 15000, 'seed', ({townships})[1 + i % {len(TOWNSHIPS)}], '["rural_migrant"]',
                  false, 'seed', {created}
                FROM generate_series(1, {n}) i"""),
            ("vouchers", f"""INSERT INTO vouchers (id, code, worker_id, person_key, kind, policy_year, quota_slot,
                status, valid_from, valid_until, channel, issued_by, created_at, updated_at, enrolment_id, class_id,
                institution_id, bound_at, occupation_code)
                SELECT md5('v' || i)::uuid, 'S' || lpad(i::text, 12, '0'), md5('w' || i)::uuid, 'P' || i,
                  'inclusive', 2023, CASE WHEN i % 100 < 80 THEN 'inclusive' END, {status}, {created},
                  {created} + interval '300 days', 'app', 'seed', {created}, {created},
                  CASE WHEN i % 100 < 80 THEN md5('e' || i)::uuid::text END,
                  CASE WHEN i % 100 < 80 THEN md5('c' || (i / 40))::uuid::text END,
                  CASE WHEN i % 100 < 80 THEN md5('i' || ((i / 40) % 200))::uuid::text END,
                  CASE WHEN i % 100 < 80 THEN {created} + interval '3 days' END, '4-10-01-05'
                FROM generate_series(1, {n}) i"""),
        ]
    if service == "training-service":
        return [("voucher projection", f"""INSERT INTO voucher_projection (voucher_id, code, person_key, kind,
            policy_year, valid_from, valid_until, issued, expired_at, bound_enrolment_id, updated_at)
            SELECT md5('v' || i)::uuid::text, 'S' || lpad(i::text, 12, '0'), 'P' || i, 'inclusive', 2023, {created},
              {created} + interval '300 days', true, CASE WHEN i % 100 >= 80 THEN {created} + interval '300 days' END,
              CASE WHEN i % 100 < 80 THEN md5('e' || i)::uuid::text END, {created}
            FROM generate_series(1, {n}) i""")]
    if service == "certification-service":
        return [("worker projection", f"""INSERT INTO known_workers (person_key, worker_id, township, categories,
            account_subject, registered, updated_at)
            SELECT 'P' || i, md5('w' || i)::uuid::text, ({townships})[1 + i % {len(TOWNSHIPS)}], '["rural_migrant"]',
              'seed-worker-' || i, true, {created}
            FROM generate_series(1, {n}) i""")]
    return seed_statements(n)  # the subsidy service: persons, chains, facts, claims, payees, funds


def event_statements(service: str, rows: int, people: int, groups: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """`rows` published outbox rows (a CloudEvent body of about 600 bytes each) and `rows` inbox rows under the
    service's consumer groups, created evenly over the last 360 days in seq order."""
    source = f"linxian-skills/{service}"
    body = ("convert_to(format('{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"" + source + "\","
            "\"type\":\"voucher.issued.v1\",\"time\":\"%s\",\"datacontenttype\":\"application/json\","
            "\"subject\":\"%s\",\"partitionkey\":\"%s\",\"correlationid\":\"%s\",\"data\":{\"voucher_id\":\"%s\","
            "\"person_key\":\"%s\",\"kind\":\"inclusive\",\"policy_year\":2023,\"valid_from\":\"2023-03-01T00:00:00"
            "+00:00\",\"valid_until\":\"2024-03-31T15:59:59+00:00\",\"channel\":\"app\",\"issued_by\":\"seed\","
            "\"township\":\"临泉镇\",\"categories\":[\"rural_migrant\"]}}', e.id, e.t, e.id, e.pk, e.id, e.id, e.pk),"
            " 'UTF8')")
    at = f"now() - interval '360 days' + (i::float8 / {rows}) * interval '359 days'"
    pairs = [(g, t) for g, types in groups for t in types] or [(f"{service}", "worker.registered.v1")]
    consumers, types = _array(p[0] for p in pairs), _array(p[1] for p in pairs)
    return [
        ("outbox", f"""INSERT INTO outbox (event_id, event_type, topic, partition_key, body, created_at,
            published_at, attempts)
            SELECT e.id, 'voucher.issued.v1', 'skills.voucher.v1', e.pk, {body}, e.t, e.t + interval '20 ms', 1
            FROM (SELECT md5('o' || i)::uuid::text AS id, 'P' || (1 + i % {people}) AS pk, {at} AS t
                  FROM generate_series(1, {rows}) i) e"""),
        ("inbox", f"""INSERT INTO inbox (consumer, event_id, event_type, processed_at)
            SELECT ({consumers})[1 + i % {len(pairs)}], md5('in' || i)::uuid::text, ({types})[1 + i % {len(pairs)}],
              {at}
            FROM generate_series(1, {rows}) i"""),
    ]


def consumer_groups(service: str) -> list[tuple[str, list[str]]]:
    from skillkit.reconcile import service_runtime

    return [(spec.name, sorted(spec.by_type)) for spec in service_runtime(service).consumer_specs]


async def migrate(url: str, service: str) -> None:
    package = next(s.package for s in PROCESSES if s.name == service)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"{package}.migrate", "upgrade", env={**os.environ, "SKILLS_DATABASE_URL": url},
        stdout=asyncio.subprocess.DEVNULL)
    if await process.wait():
        raise RuntimeError(f"migrating {service} failed")


async def seed(databases: dict[str, Any], workers: int, events: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    rows = events // (2 * len(databases))
    for service, db in databases.items():
        conn = await asyncpg.connect(db.dsn)
        try:
            statements = entity_statements(service, workers) + event_statements(
                service, rows, workers, consumer_groups(service))
            for label, sql in statements:
                started = time.perf_counter()
                status = await conn.execute(sql)
                timings[f"{service}: {label}"] = round(time.perf_counter() - started, 1)
                print(f"  seeded {service} {label}: {status.split()[-1]} rows in {timings[f'{service}: {label}']} s",
                      flush=True)
        finally:
            await conn.close()
    started = time.perf_counter()
    await build_read_models(databases["subsidy-service"].sqlalchemy_url)
    timings["subsidy-service: reports' read models"] = round(time.perf_counter() - started, 1)
    for db in databases.values():
        conn = await asyncpg.connect(db.dsn)
        try:
            started = time.perf_counter()
            await conn.execute("VACUUM ANALYZE")
            timings[f"{db.name}: VACUUM ANALYZE"] = round(time.perf_counter() - started, 1)
        finally:
            await conn.close()
    return timings


async def build_read_models(url: str) -> None:
    """The reports' first, full refresh, as a running subsidy service would have done long ago."""
    from skillkit.db import make_engine, make_sessionmaker
    from subsidy_service.adapters.report_refresh import refresh

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await refresh(session)
            await session.commit()
    finally:
        await engine.dispose()


async def sizes(databases: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for service, db in databases.items():
        conn = await asyncpg.connect(db.dsn)
        try:
            out[service] = {
                "database_mib": round(await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20),
                **{f"{t}_rows": await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("outbox", "inbox")},
                **{f"{t}_mib": round(await conn.fetchval(f"SELECT pg_total_relation_size('{t}')") / 2**20)
                   for t in ("outbox", "inbox")},
            }
        finally:
            await conn.close()
    return out


async def checkpoint() -> float:
    """Writes the seeding's dirty pages out before anything is timed: a province's database in service does not
    carry gigabytes written the minute before, and the checkpoint that would flush them (with its fsync storm)
    otherwise lands in the middle of a measurement (the first full run: a 20 s sync during the claim phase)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        started = time.perf_counter()
        await conn.execute("CHECKPOINT")
        return round(time.perf_counter() - started, 1)
    finally:
        await conn.close()


# --- measurements ------------------------------------------------------------------------------------------------


async def table_reads(databases: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Sequential scans and the rows they read, per table, cumulative (pg_stat_user_tables)."""
    out = {}
    for service, db in databases.items():
        conn = await asyncpg.connect(db.dsn)
        try:
            for r in await conn.fetch("SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, "
                                      "n_live_tup FROM pg_stat_user_tables"):
                out[f"{service}.{r['relname']}"] = dict(r)
        finally:
            await conn.close()
    return out


def scans_between(before: dict[str, Any], after: dict[str, Any], floor: int = 10_000) -> list[dict[str, Any]]:
    """Tables whose sequential scans read more than `floor` rows in between: where a query lacks an index."""
    out = []
    for table, a in after.items():
        b = before.get(table, {"seq_scan": 0, "seq_tup_read": 0, "idx_scan": 0})
        read = a["seq_tup_read"] - b["seq_tup_read"]
        if read > floor:
            out.append({"table": table, "seq_scans": a["seq_scan"] - b["seq_scan"], "rows_read": read,
                        "index_scans": a["idx_scan"] - b["idx_scan"], "rows": a["n_live_tup"]})
    return sorted(out, key=lambda x: -x["rows_read"])


async def claim_api(voucher_url: str, claims: int, rate: float) -> dict[str, Any]:
    registrations, calls = worker_calls(WARMUP_CLAIMS + claims)
    await register_all(SimpleNamespace(url=voucher_url), registrations, 16)
    await drive(voucher_url, calls[:WARMUP_CLAIMS], 16)
    opened = await drive(voucher_url, calls[WARMUP_CLAIMS:], 64, rate=rate)
    return {"rate": rate, **summarise(opened, expected_status=201)}


async def own_pages(endpoints: Endpoints, workers: int) -> dict[str, Any]:
    """Each page for `workers` of the claim phase's workers (the first one a warm-up), one request at a time."""
    from skillkit.auth import mint_token
    from voucher_service.config import VoucherSettings

    settings = VoucherSettings()
    bureau = {"Authorization": f"Bearer {mint_token(settings, 'bureau', subject='bench-bureau')}"}
    base = {"voucher": endpoints.voucher, "subsidy": endpoints.subsidy}
    times: dict[str, list[float]] = {label: [] for label, _, _ in PAGES}
    async with httpx.AsyncClient(timeout=60) as client:
        last = {"Authorization": f"Bearer {mint_token(settings, 'worker', subject=f'bench-worker-{WARMUP_CLAIMS + workers}')}"}
        deadline = time.monotonic() + 120
        while not (await client.get(f"{base['subsidy']}/v1/me/vouchers", headers=last)).text.startswith("[{"):
            if time.monotonic() > deadline:
                raise TimeoutError("the claim phase's vouchers did not reach the subsidy service")
            await asyncio.sleep(0.5)
        for n in range(WARMUP_CLAIMS, WARMUP_CLAIMS + workers + 1):
            worker = {"Authorization": f"Bearer {mint_token(settings, 'worker', subject=f'bench-worker-{n}')}"}
            voucher = None
            for label, service, path in PAGES:
                headers = bureau if label.endswith("bureau staff") else worker
                started = time.perf_counter()
                response = await client.get(base[service] + path.format(voucher=voucher), headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
                if path == "/v1/vouchers/mine":
                    voucher = response.json()[0]["id"]
                if n > WARMUP_CLAIMS:
                    times[label].append(elapsed)
    return {label: {"p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1),
                    "max_ms": round(max(ms), 1), "requests": len(ms)} for label, ms in times.items()}


async def retention_rate(db: Any) -> dict[str, Any]:
    """The kit's retention job on the seeded voucher database, with a retention of 300 days."""
    from skillkit.db import make_engine, make_sessionmaker
    from skillkit.retention import delete_expired
    from voucher_service.adapters.models import kit_tables

    engine = make_engine(db.sqlalchemy_url)
    try:
        started = time.perf_counter()
        deleted = await delete_expired(make_sessionmaker(engine), kit_tables, outbox_days=300, inbox_days=300,
                                       batch_size=5000, max_batches=10**6)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    rows = deleted.outbox + deleted.inbox
    return {"outbox_deleted": deleted.outbox, "inbox_deleted": deleted.inbox, "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds) if seconds else None}


async def phase(name: str, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"phase": name}
    databases = {}
    try:
        for service in SERVICES:
            databases[service] = await create_database(f"province_{service.split('-')[0]}")
            await migrate(databases[service].sqlalchemy_url, service)
        if name == "province":
            started = time.perf_counter()
            report["seed_s"] = await seed(databases, args.workers, args.events)
            report["seed_total_s"] = round(time.perf_counter() - started, 1)
        report["sizes"] = await sizes(databases)
        report["checkpoint_s"] = await checkpoint()
        urls = {service: db.sqlalchemy_url for service, db in databases.items()}
        (directory / name).mkdir(parents=True, exist_ok=True)
        with platform_running(urls, log_dir=directory / name, seed="bench") as platform:
            endpoints = Endpoints.of(platform)
            before = await table_reads(databases)
            load_before = os.getloadavg()[0]
            with PeakRss({**pids(platform), "load generator": os.getpid()}, interval=0.25) as rss:
                config = pipeline.Config(chains=args.chains, rate=args.rate, deadline_s=args.deadline,
                                         baseline_messages=1000, baseline_http_requests=500)
                piped = await pipeline.drive(config, platform, list(databases.values()))
                report["pipeline"] = {"chains_per_s": piped["chains_per_s"],
                                      "cert_to_eligible_ms": piped["latency_cert_to_eligible_ms"]}
                await asyncio.sleep(10)  # the pipeline's last events settle before the claims are timed
                report["claims"] = await claim_api(endpoints.voucher, args.claims, args.claim_rate)
                report["pages"] = await own_pages(endpoints, args.pages)
            report["peak_rss_mib"] = {k: rss.mib(k) for k in rss.peak}
            report["load_avg_1m"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
            report["sequential_scans"] = scans_between(before, await table_reads(databases))
        if name == "province":
            report["retention"] = await retention_rate(databases["voucher-service"])
        return report
    finally:
        for db in databases.values():
            await drop_database(db)


async def claim_api_alone(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`--claim-api-alone`: only the voucher service (relay, consumers and periodic jobs off, as bench.voucher_claim
    runs it) on an empty voucher database and on one seeded with the province's workers, vouchers and its share of
    the events: the claim API apart from the other services and the broker."""
    from bench.common import ServerProcess

    out = []
    for name in ("empty", "province"):
        db = await create_database("province_claims")
        try:
            await migrate(db.sqlalchemy_url, "voucher-service")
            if name == "province":
                conn = await asyncpg.connect(db.dsn)
                try:
                    for _, sql in entity_statements("voucher-service", args.workers) + event_statements(
                            "voucher-service", args.events // 8, args.workers, consumer_groups("voucher-service")):
                        await conn.execute(sql)
                    await conn.execute("VACUUM ANALYZE")
                finally:
                    await conn.close()
            checkpointed = await checkpoint()
            env = {"SKILLS_DATABASE_URL": db.sqlalchemy_url, "SKILLS_RUN_RELAY": "false",
                   "SKILLS_RUN_CONSUMERS": "false", "SKILLS_RUN_PERIODIC": "false"}
            server = ServerProcess("voucher_service.main:create", env, factory=True)
            with server.running():
                load_before = os.getloadavg()[0]
                with PeakRss({"voucher-service": server.pid}) as rss:
                    claims = await claim_api(server.url, args.claims, args.claim_rate)
            out.append({"phase": name, "claims": claims, "checkpoint_s": checkpointed,
                        "peak_rss_mib": rss.mib("voucher-service"),
                        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
            print(f"claim API alone, {name}: {claims} RSS {rss.mib('voucher-service')} MiB, load "
                  f"{out[-1]['load_avg_1m']}", flush=True)
        finally:
            await drop_database(db)
    return out


def render(reports: list[dict[str, Any]], args: argparse.Namespace) -> str:
    empty, full = reports
    lines = [f"A province's data: {args.workers:,} workers and vouchers, {args.events:,} event rows; "
             f"empty databases first, then the province, same run"]
    if "seed_total_s" in full:
        lines.append(f"seeding: {full['seed_total_s']} s ({', '.join(f'{k} {v} s' for k, v in full['seed_s'].items())})")
    lines.append(f"CHECKPOINT before the platform started: empty {empty['checkpoint_s']} s, province {full['checkpoint_s']} s")
    lines.append("sizes (province): " + "; ".join(
        f"{s} {v['database_mib']} MiB (outbox {v['outbox_rows']:,} rows / {v['outbox_mib']} MiB, inbox "
        f"{v['inbox_rows']:,} / {v['inbox_mib']} MiB)" for s, v in full["sizes"].items()))
    lines.append("| measurement | empty p50 ms | empty p99 ms | province p50 ms | province p99 ms |")
    lines.append("|---|---|---|---|---|")
    e, f = empty["pipeline"]["cert_to_eligible_ms"], full["pipeline"]["cert_to_eligible_ms"]
    lines.append(f"| certificate.issued → eligible at {args.rate:g} chains/s offered ({e['samples']} / {f['samples']} "
                 f"chains) | {e['p50']} | {e['p99']} | {f['p50']} | {f['p99']} |")
    e, f = empty["claims"], full["claims"]
    lines.append(f"| claim API, open loop {args.claim_rate:g}/s ({e['succeeded']} / {f['succeeded']} claims, failed "
                 f"{e['failed']} / {f['failed']}; {e['per_second']} / {f['per_second']} claims/s) | {e['p50_ms']} | "
                 f"{e['p99_ms']} | {f['p50_ms']} | {f['p99_ms']} |")
    for label in empty["pages"]:
        e, f = empty["pages"][label], full["pages"][label]
        lines.append(f"| {label} ({e['requests']} requests) | {e['p50_ms']} | {e['p99_ms']} | {f['p50_ms']} | "
                     f"{f['p99_ms']} |")
    lines.append(f"pipeline chains/s: empty {empty['pipeline']['chains_per_s']}, province {full['pipeline']['chains_per_s']}")
    for r in reports:
        lines.append(f"peak RSS MiB, {r['phase']}: " + ", ".join(f"{k} {v}" for k, v in r["peak_rss_mib"].items())
                     + f" (load average {r['load_avg_1m']['before']} → {r['load_avg_1m']['after']})")
        lines.append(f"sequential scans over 10,000 rows, {r['phase']}: " + (", ".join(
            f"{s['table']} {s['seq_scans']}× ({s['rows_read']:,} rows read, {s['rows']:,} rows)"
            for s in r["sequential_scans"]) or "none"))
    if "retention" in full:
        r = full["retention"]
        lines.append(f"retention job (300 days) on the province's voucher database: {r['outbox_deleted']:,} outbox + "
                     f"{r['inbox_deleted']:,} inbox rows in {r['seconds']} s ({r['rows_per_s']:,} rows/s)")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    if args.claim_api_alone:
        reports = await claim_api_alone(args)
        if args.json:
            Path(args.json).write_text(json.dumps(reports, ensure_ascii=False, indent=2, default=str))
        return
    directory = Path(args.keep_logs) if args.keep_logs else Path(tempfile.mkdtemp(prefix="province-bench-"))
    try:
        reports = []
        for name in ("empty", "province"):
            print(f"phase {name} …", flush=True)
            reports.append(await phase(name, args, directory))
        print(render(reports, args))
        if args.json:
            Path(args.json).write_text(json.dumps(reports, ensure_ascii=False, indent=2, default=str))
    finally:
        if not args.keep_logs:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--chains", type=int, default=400, help="pipeline chains per phase")
    parser.add_argument("--rate", type=float, default=20, help="pipeline chains/s offered")
    parser.add_argument("--claims", type=int, default=1000, help="open-loop claims per phase")
    parser.add_argument("--claim-rate", type=float, default=50)
    parser.add_argument("--pages", type=int, default=100, help="workers whose pages are read")
    parser.add_argument("--deadline", type=float, default=900)
    parser.add_argument("--claim-api-alone", action="store_true",
                        help="only the voucher service (relay, consumers, jobs off) on an empty and a seeded database")
    parser.add_argument("--json")
    parser.add_argument("--keep-logs")
    asyncio.run(main(parser.parse_args()))
