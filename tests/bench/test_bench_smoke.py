"""Smoke test of the voucher-claim benchmark machinery (bench/), so the benchmark cannot rot.

A handful of requests through the real processes; it checks the report's structure and exact counts,
never timings (numbers belong in BENCHMARKS.md, not in asserts).
"""

from __future__ import annotations

import pytest

from bench.common import percentile
from bench.voucher_claim import Config, render, resident_id, run
from skillkit.pii import normalise_resident_id
from skillkit.testing.plugin import test_backend as chosen_backend

pytestmark = pytest.mark.e2e

TIMING_KEYS = {"duration_s", "per_second", "p50_ms", "p99_ms", "max_ms", "server_peak_rss_mib", "client_peak_rss_mib"}


def test_percentile_is_nearest_rank() -> None:
    sample = [float(x) for x in range(100, 0, -1)]  # 1..100, unordered
    assert percentile(sample, 50) == 50.0
    assert percentile(sample, 99) == 99.0
    assert percentile(sample, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_generated_resident_ids_are_valid_and_distinct() -> None:
    from datetime import date

    ids = [resident_id(i) for i in range(2500)]
    assert len(set(ids)) == 2500
    assert all(normalise_resident_id(x, date(2026, 1, 1)) == x for x in ids)
    assert ids[0].startswith("14112420030101000") and ids[2499].startswith("14112420030103499")


async def test_voucher_claim_benchmark_runs_end_to_end() -> None:
    report = await run(Config(clients=3, requests=7, warmup=2, backend=chosen_backend(), rate=50.0, rate_requests=4))

    assert report["benchmark"] == "voucher_claim"
    assert report["config"] == {"clients": 3, "requests": 7, "warmup": 2, "backend": chosen_backend(), "relay": False,
                                "rate": 50.0, "rate_requests": 4}
    assert report["database_dropped"] is True
    for name in ("service", "baseline"):
        part = report[name]
        assert (part["requests"], part["succeeded"], part["failed"]) == (7, 7, 0), part
        assert part["statuses"] == {201: 7}
        assert part["errors"] == {}
        opened = part["open_loop"]
        assert (opened["rate"], opened["requests"], opened["succeeded"], opened["failed"]) == (50.0, 4, 4, 0)
        assert opened["statuses"] == {201: 4}
        # warm-up, closed- and open-loop claims each wrote exactly one voucher and one voucher.issued outbox row
        assert part["rows"] == {"vouchers": 13, "voucher_issued_events": 13}
        assert TIMING_KEYS <= part.keys()
        assert all(part[key] > 0 for key in TIMING_KEYS)
        # CPU time comes in clock ticks (10 ms): seven requests can take less than one, so 0.0 is a true reading and
        # only the figures' presence and type are checked (their size is a measurement, for BENCHMARKS.md)
        assert {type(part["server_cpu_ms_per_request"]), type(part["client_cpu_ms_per_request"])} == {float}
    assert report["ratio"] > 0
    assert set(report["target"]) == {"ratio_min", "p99_ms_max", "at_clients", "ratio_met", "p99_met"}
    assert (report["target"]["ratio_min"], report["target"]["p99_ms_max"], report["target"]["at_clients"]) == (
        0.5, 50.0, 64)
    printed = render(report)
    assert printed.splitlines()[0].startswith("voucher-claim benchmark: 3 clients, 7 timed claims after 2 warm-up")
    assert "ratio service/baseline" in printed and "open loop: 4 claims due at 50.0/s" in printed
    assert len(report["machine"]["load_average_before"]) == 3
