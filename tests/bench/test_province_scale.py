"""Smoke test of bench/province_scale.py (issue 18), so its seeding cannot drift from the schema: a tiny province
(100 workers, 80 event rows) seeded into the four services' freshly migrated databases, counted exactly, and the
retention job's run over it. Exact counts only, never timings."""

from __future__ import annotations

import pytest

from bench.common import create_database, drop_database, scalar
from bench.province_scale import SERVICES, migrate, retention_rate, seed, sizes
from skillkit.testing import plugin

pytestmark = pytest.mark.skipif(plugin.test_backend() != "postgres",
                                reason="seeds with PostgreSQL's generate_series, as the benchmark does")

ENTITIES = {  # per 100 workers: bench/reports.py's shape in the subsidy service
    "voucher-service": {"workers": 100, "vouchers": 100},
    "training-service": {"voucher_projection": 100},
    "certification-service": {"known_workers": 100},
    "subsidy-service": {"persons": 100, "chains": 100, "claims": 110, "report_vouchers": 100},
}


async def test_issue18_a_tiny_province_is_seeded_exactly_and_retention_deletes_its_oldest_events() -> None:
    databases = {}
    try:
        for service in SERVICES:
            databases[service] = await create_database(f"province_test_{service.split('-')[0]}")
            await migrate(databases[service].sqlalchemy_url, service)
        await seed(databases, workers=100, events=80)
        for service, tables in ENTITIES.items():
            for table, rows in tables.items():
                assert await scalar(databases[service], f"SELECT count(*) FROM {table}") == rows, (service, table)
        assert {s: (v["outbox_rows"], v["inbox_rows"]) for s, v in (await sizes(databases)).items()} == {
            s: (10, 10) for s in SERVICES}
        assert await scalar(databases["voucher-service"],
                            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        # created evenly over the last 360 days: the first of ten rows is older than 300 days
        deleted = await retention_rate(databases["voucher-service"])
        assert (deleted["outbox_deleted"], deleted["inbox_deleted"]) == (1, 1)
    finally:
        for db in databases.values():
            await drop_database(db)
