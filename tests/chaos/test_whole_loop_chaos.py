"""Whole-loop chaos (issue 18): nothing is lost or paid twice while every process dies.

Chains at classes of 20 through the four services, each as two uvicorn replicas in the same consumer groups, on
PostgreSQL and Tansu (bench/chaos.py). A controller kill -9's every service process at ≥ 20 % progress and
restarts it, restarts the broker once (then the outbox replay), and duplicates and reorders deliveries. At the
end: every chain that should pay has exactly one claim per subsidy with the exact amount, nothing ineligible is
payable, every outbox row was applied by every subscribing group (skillkit.reconcile), the dead-letter topics
are empty and no process logged a dead letter, and the totals per payee agree three ways to the fen: the plan,
an independent recomputation from the voucher, training and certification databases (bench/chaos_recompute.py,
plain SQL with the default policy table's rates, none of the subsidy chain's code) and the subsidy's claims.
Two seeds. What was killed and when is printed (`pytest -s`) and kept in the report.

CI runs the default size (SKILLS_CHAOS_CHAINS, 160 chains a seed: a few minutes on the 2-core machine);
`python -m bench.chaos --chains 10000` is the full run (BENCHMARKS.md, "Whole-loop chaos").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.chaos import ChaosConfig, failures, render, run
from skillkit.platform import SERVICES
from skillkit.testing.plugin import test_backend as chosen_backend

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

CHAINS = int(os.environ.get("SKILLS_CHAOS_CHAINS", "160"))


@pytest.mark.parametrize("seed", [1, 2])
async def test_nothing_lost_or_paid_twice_through_kills_a_broker_restart_and_duplicates(
        seed: int, database_factory, tmp_path: Path) -> None:
    if chosen_backend() != "postgres":
        pytest.skip("replicas share a PostgreSQL database (leader and relay locks); CI always runs this on PostgreSQL")
    urls = {s.name: await database_factory(f"chaos{s.package.split('_')[0][:4]}") for s in SERVICES}
    config = ChaosConfig(chains=CHAINS, seed=seed, log_dir=tmp_path)
    report = await run(config, urls)
    print(render(report))
    (tmp_path / "chaos-report.json").write_text(json.dumps(report, indent=2, default=str))

    assert failures(report) == {}, render(report)
    faults = report["faults"]
    killed = {f["target"] for f in faults if f["action"] == "kill -9"}
    assert killed == {s.name for s in SERVICES} | {f"{s.name}#2" for s in SERVICES}  # every process, both replicas
    assert all(f["progress"] >= 0.2 for f in faults if f["action"] == "kill -9")
    assert [f["action"] for f in faults].count("broker restart") == 1
    assert report["replayed"] > 0 and report["echoed"] > 0
    checks = report["checks"]
    assert checks["payable_claims"] == checks["expected_payable"] > CHAINS  # training + S4 + S8 claims
    assert checks["payable_total"] == checks["plan_total"]
    # what the producers stored pays the same claims as the plan and the subsidy service (checked per payee in
    # failures' totals_per_payee_from_databases)
    assert checks["databases_payable"] == checks["expected_payable"]
    assert checks["databases_total"] == checks["plan_total"]
    assert report["reconcile_after"]["ok"] and report["reconcile_after"]["gaps"] == 0
