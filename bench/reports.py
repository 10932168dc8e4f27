"""Report endpoints at a province's size (issue 14): seed N vouchers (default 1,000,000) into a fresh PostgreSQL
database by bulk SQL (generate_series: persons, chains, completion / certificate / class facts, training and
evaluation claims, payees, funds), ANALYZE as autovacuum would, build the reports' read models (the first, full
refresh, then an incremental one after 1,000 claims were paid), then time each report endpoint through the app
(in process, httpx ASGI transport: the query, the composition and the JSON, no network) and print p50 / p99.

    python -m bench.reports [--vouchers 1000000] [--runs 15]

The shape per 100 vouchers (r = i mod 100): 80 bound, 65 completed, 60 passed, 45 certified, 40 with a training
claim eligible or further (15 paid), 25 waiting; 90 % of policy year 2023; 40 trainees per class, 200 institutions,
23 townships; an evaluation claim per certificate. The disclosure is timed without its cache and rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from sqlalchemy import text

from bench.common import percentile
from skillkit.testing.harness import running_service
from skillkit.testing.infra import create_pg_database, drop_pg_database
from subsidy_service.adapters.report_refresh import refresh
from subsidy_service.config import SubsidySettings
from subsidy_service.main import create

TOWNSHIPS = ("临泉镇", "白文镇", "城庄镇", "兔坂镇", "克虎镇", "三交镇", "湍水头镇", "林家坪镇", "招贤镇", "碛口镇",
             "刘家会镇", "丛罗峪镇", "曲峪镇", "八堡乡", "大禹乡", "玉坪乡", "青凉寺乡", "石白头乡", "雷家碛乡", "木瓜坪乡",
             "安业乡", "车赶乡", "安家庄乡")
KINDS = ("inclusive", "inclusive", "order", "project", "caregiver", "entrepreneurship")
RULES = {"inclusive": "S1", "order": "S2", "project": "S3", "caregiver": "S7", "entrepreneurship": "S6"}


def _array(values) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def seed_statements(n: int) -> list[tuple[str, str]]:
    townships, kinds = _array(TOWNSHIPS), _array(KINDS)
    rule = "CASE " + " ".join(f"WHEN {{kind}} = '{k}' THEN '{r}'" for k, r in RULES.items()) + " END"
    kind_of = f"({kinds})[1 + ((i / 40) % 6)]"
    state = ("CASE WHEN i % 100 < 15 THEN 'paid' WHEN i % 100 < 18 THEN 'approved' WHEN i % 100 < 21 THEN 'verified' "
             "WHEN i % 100 < 25 THEN 'declared' WHEN i % 100 < 40 THEN 'eligible' ELSE 'waiting' END")
    year = "CASE WHEN i % 10 = 9 THEN 2024 ELSE 2023 END"
    created = f"(make_date({year}, 1, 1) + (i % 365) * interval '1 day' + interval '2 hours')::timestamptz"
    paid_at = f"CASE WHEN i % 100 < 15 THEN {created} + interval '40 days' END"
    claim_columns = ("id, claim_type, subject_id, part, person_key, voucher_id, certificate_id, institution_id, "
                     "payee_type, payee_id, kind, policy_year, table_year, table_version, amount, lines, rule_ids, "
                     "state, missing, recovery_pending, created_at, updated_at, paid_at")
    return [
        ("persons", f"""INSERT INTO persons (person_key, worker_id, masked_name, township, categories, updated_at)
            SELECT 'P' || i, 'W' || i, '张*三', ({townships})[1 + i % {len(TOWNSHIPS)}], '["rural_migrant"]',
              timestamptz '2023-01-01 00:00+08'
            FROM generate_series(1, {n}) i"""),
        ("chains", f"""INSERT INTO chains (voucher_id, person_key, kind, policy_year, enrolment_id, class_id,
            institution_id, certificate_id, status, links, created_at, updated_at)
            SELECT 'V' || i, 'P' || i, {kind_of}, {year},
              CASE WHEN i % 100 < 80 THEN 'E' || i END, CASE WHEN i % 100 < 80 THEN 'C' || (i / 40) END,
              CASE WHEN i % 100 < 80 THEN 'I' || ((i / 40) % 200) END, CASE WHEN i % 100 < 45 THEN 'CERT' || i END,
              CASE WHEN i % 100 < 40 THEN 'complete' ELSE 'waiting' END, '[]', {created}, {created}
            FROM generate_series(1, {n}) i"""),
        ("facts: completions", f"""INSERT INTO facts (kind, key, event_type, event_id, event_time, person_key,
            voucher_id, enrolment_id, class_id, data, received_at)
            SELECT 'completed', 'E' || i, 'training.completed.v1', md5('c' || i), now(), 'P' || i, 'V' || i, 'E' || i,
              'C' || (i / 40), json_build_object('passed', i % 100 < 60, 'attended_days', 5), now()
            FROM generate_series(1, {n}) i WHERE i % 100 < 65"""),
        ("facts: certificates", f"""INSERT INTO facts (kind, key, event_type, event_id, event_time, person_key,
            institution_id, data, received_at)
            SELECT 'certificate', 'CERT' || i, 'certificate.issued.v1', md5('z' || i), now(), 'P' || i,
              'EV' || (i % 20), json_build_object('level', 5), now()
            FROM generate_series(1, {n}) i WHERE i % 100 < 45"""),
        ("facts: classes and outcomes", f"""INSERT INTO facts (kind, key, event_type, event_id, event_time, class_id,
            institution_id, data, received_at)
            SELECT k.kind, 'C' || c, k.event_type, md5(k.kind || c), now(), 'C' || c, 'I' || (c % 200),
              json_build_object('kind', ({kinds})[1 + c % 6], 'occupation_code', '4-10-01-01', 'level', 5,
                                'start_date', '2023-03-01', 'end_date', '2023-03-10', 'trainees_completed', 26,
                                'employed', 18, 'passed', 24), now()
            FROM generate_series(0, {n} / 40) c
            JOIN (VALUES ('class', 'class.opened.v1'), ('class_outcome', 'class.outcome_reported.v1'))
              AS k(kind, event_type) ON k.kind = 'class' OR ({kinds})[1 + c % 6] = 'caregiver'"""),
        ("claims: training", f"""INSERT INTO claims ({claim_columns})
            SELECT gen_random_uuid(), 'training', 'V' || i, 'main', 'P' || i, 'V' || i, NULL, 'I' || ((i / 40) % 200),
              'institution', 'I' || ((i / 40) % 200), {kind_of}, {year}, 2023, 1, 500.00, '[]',
              json_build_array({rule.format(kind=kind_of)}), {state}, '[]', false, {created}, {created}, {paid_at}
            FROM generate_series(1, {n}) i WHERE i % 100 < 65"""),
        ("claims: evaluation", f"""INSERT INTO claims ({claim_columns})
            SELECT gen_random_uuid(), 'evaluation', 'CERT' || i, 'main', 'P' || i, NULL, 'CERT' || i,
              'I' || ((i / 40) % 200), 'evaluation_institution', 'EV' || (i % 20), 'skill_level', {year}, 2023, 1,
              400.00, '[]', '["S8"]', {state}, '[]', false, {created}, {created}, {paid_at}
            FROM generate_series(1, {n}) i WHERE i % 100 < 45"""),
        ("payees", """INSERT INTO payees (payee_type, payee_id, name, updated_at)
            SELECT 'institution', 'I' || g, '临县第' || g || '职业培训学校', now() FROM generate_series(0, 199) g
            UNION ALL SELECT 'evaluation_institution', 'EV' || g, '评价机构' || g, now() FROM generate_series(0, 19) g"""),
        ("funds", """INSERT INTO funds (id, year, code, allocated, reserved, paid, updated_at)
            VALUES (gen_random_uuid(), 2023, 'skills_special', 300000000, 1000000, 100000000, now()),
                   (gen_random_uuid(), 2023, 'employment_subsidy', 100000000, 0, 20000000, now()),
                   (gen_random_uuid(), 2023, 'reward_2021', 50000000, 0, 0, now())"""),
    ]


ENDPOINTS = [
    ("targets, 2023", "/v1/reports/targets", {"year": 2023}),
    ("funnel total, 2023", "/v1/reports/funnel", {"year": 2023}),
    ("funnel by township, 2023", "/v1/reports/funnel", {"year": 2023, "by": "township"}),
    ("funnel by institution, 2023", "/v1/reports/funnel", {"year": 2023, "by": "institution"}),
    ("funnel by month, 2023", "/v1/reports/funnel", {"year": 2023, "by": "month"}),
    ("funnel by kind, 2023 Q2", "/v1/reports/funnel", {"year": 2023, "quarter": 2, "by": "kind"}),
    ("drill: township -> institutions", "/v1/reports/funnel", {"year": 2023, "township": "临泉镇", "by": "institution"}),
    ("drill: institution -> classes", "/v1/reports/funnel",
     {"year": 2023, "township": "临泉镇", "institution_id": "I7", "by": "class"}),
    ("money by rule, 2023", "/v1/reports/money", {"year": 2023, "by": "rule"}),
    ("money by payee, 2023", "/v1/reports/money", {"year": 2023, "by": "payee"}),
    ("money by state, 2023 Q2", "/v1/reports/money", {"year": 2023, "quarter": 2, "by": "state"}),
    ("funds, 2023", "/v1/reports/funds", {"year": 2023}),
    ("pipeline", "/v1/reports/pipeline", {}),
    ("filters", "/v1/reports/filters", {}),
    ("public disclosure, 2023 (uncached)", "/v1/public/disclosure", {"year": 2023}),
    ("public person list, one institution", "/v1/public/disclosure/persons",
     {"year": 2023, "payee_type": "institution", "payee_id": "I7"}),
]


async def analyze(service) -> None:
    async with service.runtime.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))


async def main(vouchers: int, runs: int, keep: bool) -> None:
    url = await create_pg_database("benchreports")
    try:
        settings = SubsidySettings(environment="test", database_url=url, run_relay=False, run_consumers=False,
                                   run_periodic=False, log_level="WARNING", disclosure_rate_limit=10**9,
                                   kafka_bootstrap="127.0.0.1:1")
        async with running_service(create, settings, "subsidy_service.migrations") as service:
            started = time.perf_counter()
            async with service.runtime.engine.begin() as conn:
                for label, statement in seed_statements(vouchers):
                    t = time.perf_counter()
                    result = await conn.execute(text(statement))
                    print(f"  seeded {label}: {result.rowcount:,} rows in {time.perf_counter() - t:.1f} s")
            await analyze(service)
            print(f"seeded {vouchers:,} vouchers in {time.perf_counter() - started:.0f} s (with ANALYZE)")
            t = time.perf_counter()
            async with service.sessionmaker() as session:
                await refresh(session)
                await session.commit()
            print(f"read models, first (full) refresh: {time.perf_counter() - t:.1f} s")
            await analyze(service)
            # an incremental refresh after 1,000 claims were paid (what a busy 30 s might bring)
            async with service.sessionmaker() as session:
                await session.execute(text("UPDATE claims SET state = 'paid', updated_at = now() WHERE id IN "
                                           "(SELECT id FROM claims WHERE state = 'eligible' LIMIT 1000)"))
                await session.commit()
            incremental = []
            for _ in range(3):
                t = time.perf_counter()
                async with service.sessionmaker() as session:
                    done = await refresh(session)
                    await session.commit()
                incremental.append((time.perf_counter() - t) * 1000)
            print(f"read models, incremental refresh ({done['vouchers']} vouchers re-read, {done['persons']} "
                  f"holders): {', '.join(f'{ms:.0f}' for ms in incremental)} ms")
            print(f"load average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(f"{runs} timed runs per endpoint after one warm-up, PostgreSQL, in-process ASGI, caches cleared before each run")
            headers = service.headers("bureau")
            print(f"| endpoint | p50 ms | p99 ms |\n|---|---|---|")
            for label, path, params in ENDPOINTS:
                times = []
                for run in range(runs + 1):
                    service.app.state.disclosure_cache._items.clear()  # every run computes (uncached)
                    service.app.state.report_cache._items.clear()
                    t = time.perf_counter()
                    response = await service.client.get(path, params=params, headers=headers)
                    elapsed = (time.perf_counter() - t) * 1000
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                    if run:
                        times.append(elapsed)
                print(f"| {label} | {percentile(times, 50):.0f} | {percentile(times, 99):.0f} |", flush=True)
            # the dashboard's usual case: the same answer again before the next refresh (kept by refresh stamp)
            cached = []
            for run in range(runs + 1):
                t = time.perf_counter()
                await service.client.get("/v1/reports/targets", params={"year": 2023}, headers=headers)
                if run:
                    cached.append((time.perf_counter() - t) * 1000)
            print(f"| targets, 2023, again within the same refresh (cached) | {percentile(cached, 50):.1f} | "
                  f"{percentile(cached, 99):.1f} |")
    finally:
        if not keep:
            await drop_pg_database(url)
        else:
            print("kept", url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vouchers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database (to EXPLAIN the queries)")
    args = parser.parse_args()
    asyncio.run(main(args.vouchers, args.runs, args.keep))
