"""Smoke test of bench/statement_floor.py, so it cannot rot: every layer runs against its baseline, on a database
it creates and drops; labels and counts only, never timings."""

from __future__ import annotations

import pytest

from bench.statement_floor import render, run
from skillkit.testing import plugin

pytestmark = pytest.mark.skipif(plugin.test_backend() != "postgres", reason="measures asyncpg against PostgreSQL")


async def test_every_layer_is_measured_against_its_baseline() -> None:
    results = await run(statements=5, transactions=5, rounds=2)

    assert len(results) == 2
    assert list(results[0]["per statement"]) == [
        "ORM Session.get", "ORM select(Model)", "Core select, built once", "baseline: asyncpg fetchrow"]
    assert list(results[0]["per transaction (one read)"]) == [
        "AsyncSession + commit (the kit)", "Core engine.begin()", "asyncpg transaction, SQLAlchemy pool",
        "baseline: asyncpg transaction"]
    text = render(results)
    assert text.count("× the baseline") == 8
    assert "  baseline: asyncpg fetchrow" in text
