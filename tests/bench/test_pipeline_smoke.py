"""Smoke test of the pipeline benchmark (bench/pipeline.py) with the bulk intake, so it cannot rot.

Two classes of three through the real processes (Tansu, four services, the province simulator); it checks
the report's exact counts, never timings (numbers belong in BENCHMARKS.md).
"""

from __future__ import annotations

import pytest

from bench.pipeline import Config, render, run
from skillkit.testing.plugin import test_backend as chosen_backend

pytestmark = pytest.mark.e2e


async def test_pipeline_benchmark_runs_two_bulk_classes_to_eligible_claims() -> None:
    config = Config(chains=6, class_size=3, days=5, parallel_classes=2, backend=chosen_backend(),
                    baseline_messages=50, baseline_http_requests=50, deadline_s=180, intake="bulk")
    report = await run(config)

    assert report["chains"] == 6
    latency = report["latency_cert_to_eligible_ms"]
    assert (latency["samples"], latency["unmatched"]) == (6, 0)  # every claim cites a certificate seen on the topic
    assert report["server_errors_retried"] == 0
    # per class: batch, roster, open class, >= 1 enrolment file, >= 1 status poll, check-ins, completions,
    # outcome, evaluation, candidates, results, certificates
    assert report["rest_requests"] >= 2 * 12
    assert report["consumer_events_by_type"]["subsidy-service certificate.issued.v1 applied"] == 6
    assert report["consumer_events_by_type"]["voucher-service training.started.v1 applied"] == 6
    assert not any("checked_in" in key for key in report["consumer_events_by_type"])
    assert "postgresql (all backends)" in report["cpu_s"]
    assert render(report, config).splitlines()[0].endswith("bulk intake, " + chosen_backend())
