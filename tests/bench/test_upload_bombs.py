"""Smoke test of bench/upload_bombs.py (issue 19), so the benchmark cannot rot: two uploads of each kind through the
three real service processes. Exact answers and counts only, never timings (those are BENCHMARKS.md's)."""

from __future__ import annotations

import pytest

from bench.upload_bombs import Config, render, run
from skillkit.testing.bombs import BOMBS
from skillkit.testing.plugin import test_backend as chosen_backend

pytestmark = pytest.mark.e2e

ENDPOINTS = {
    "voucher": "/v1/batches/{id}/roster",
    "training": "/v1/classes/{id}/enrolments/bulk",
    "certification": "/v1/evaluations/{id}/results/upload",
}
VALID_STATUS = {"voucher": 201, "training": 201, "certification": 200}
SUMMARY_KEYS = {"count", "p50_ms", "p99_ms", "max_ms"}


async def test_upload_bombs_benchmark_runs_end_to_end() -> None:
    report = await run(Config(repeats=2, valid_rows=3, health_samples=4, backend=chosen_backend()))

    assert report["benchmark"] == "upload_bombs"
    assert report["config"] == {"repeats": 2, "valid_rows": 3, "health_samples": 4,
                                "services": ["voucher", "training", "certification"], "backend": chosen_backend()}
    assert report["targets"] == {"refusal_s_max": 2.0, "health_ms_max": 200.0}
    assert report["databases_dropped"] == {"voucher": True, "training": True, "certification": True}
    assert set(report["services"]) == set(ENDPOINTS)
    for service, part in report["services"].items():
        assert part["endpoint"] == ENDPOINTS[service]
        assert part["idle_health"]["count"] == 4
        valid = part["valid_upload"]
        assert (valid["uploads"], valid["rows_each"], valid["statuses"], valid["applied"]) == (
            2, 3, {VALID_STATUS[service]: 2}, 6), (service, valid)
        # the bombs changed nothing: exactly the valid uploads' rows
        assert (part["rows_after"], part["rows_expected"]) == (6, 6), service
        # the refusal codes are exactly issue 16's, every time
        assert {bomb: b["answers"] for bomb, b in part["bombs"].items()} == {
            "two_million_rows": {"413 roster_too_large": 2},
            "rows_under_the_size_bound": {"413 roster_too_many_rows": 2},
        }, service
        for bomb, b in part["bombs"].items():
            assert b["uploads"] == 2 and b["refusal"]["count"] == 2
            assert b["file_bytes"] > 0
            # one probe is sent as each upload starts, whatever the timing
            assert b["health_while_processed"]["count"] >= 2
            assert SUMMARY_KEYS == set(b["refusal"]) == set(b["health_while_processed"])
            assert {type(b["refusal_target_met"]), type(b["health_target_met"])} == {bool}
            assert b["peak_rss_mib"] > 0
        assert set(part["bombs"]) == set(BOMBS)
    printed = render(report)
    assert printed.splitlines()[0].startswith("upload-bombs benchmark: 2 uploads of each kind, valid files of 3 rows")
    assert printed.count("bomb two_million_rows") == 3 and "targets (issue 16)" in printed
