"""Smoke test of bench/settlement.py (issue 20), so it cannot rot: a tiny quarter (200 claims over 4 payees) runs
declare → verify → approve → export → import on a database it creates and drops, and every claim ends paid to the
fen. Exact outcomes only, never timings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.settlement import STEPS, Config, amount_of, expected_total, render, run
from skillkit.testing import plugin

pytestmark = pytest.mark.skipif(plugin.test_backend() != "postgres",
                                reason="seeds with PostgreSQL's generate_series and measures PostgreSQL backends")


def test_the_seeded_amounts_are_fen_exact() -> None:
    assert [amount_of(i) for i in (1, 2, 3)] == [Decimal("379.19"), Decimal("458.38"), Decimal("537.57")]
    assert expected_total(4) == Decimal("1991.90")  # 379.19 + 458.38 + 537.57 + 616.76
    assert expected_total(200) == Decimal("129197.25")


async def test_a_tiny_quarter_pays_every_claim_to_the_fen() -> None:
    report = await run(Config(claims=200, payees=4, sample_share=Decimal("0.05")))

    total = expected_total(200)
    assert report["expected_total"] == str(total) == "129197.25"
    steps = report["steps"]
    assert list(steps) == list(STEPS)
    assert steps["declare"]["detail"] == {"declarations": 4, "lines": 200}
    # 50 lines per declaration, 5 % sampled: 3 lines each (2.5 rounded half up)
    verify = steps["verify"]["detail"]
    assert (verify["approved_lines"], verify["sampled_checked"]) == (200, 12)
    assert 0 < verify["sample_checks_s"] <= steps["verify"]["seconds"]
    approve = steps["approve"]["detail"]
    assert (approve["total"], approve["transfers"], approve["claims"]) == ("129197.25", 4, 200)
    # P6: 职业技能专账资金 first (60 % of the total, whole yuan), the rest from 就业补助资金
    assert approve["draws"] == [{"code": "skills_special", "amount": "77518.00"},
                                {"code": "employment_subsidy", "amount": "51679.25"}]
    assert steps["export"]["detail"]["lines"] == 4
    assert steps["import"]["detail"] == {"paid": 4, "paid_amount": "129197.25", "failed": 0}

    checks = report["checks"]
    assert checks["claim_states"] == {"paid": 200}
    assert checks["payment_states"] == {"paid": 200}
    assert checks["batch_state"] == "settled"
    assert checks["batch_total"] == checks["paid_claims_sum"] == checks["funds_paid"] == "129197.25"
    assert checks["funds_reserved"] == "0.00"
    assert checks["funds"] == {
        "employment_subsidy": {"allocated": "52679.25", "reserved": "0.00", "paid": "51679.25"},
        "skills_special": {"allocated": "77518.00", "reserved": "0.00", "paid": "77518.00"},
    }
    assert checks["claim_paid_events"] == 200
    for step in steps.values():
        assert step["statements"] > 0 and step["peak_rss_mib"] > 0

    text = render(report)
    assert "settlement quarter: 200 eligible claims over 4 payees, 2023 Q3" in text
    assert "batch settled total 129197.25 (seeded 129197.25), funds paid 129197.25 reserved 0.00" in text


async def test_checks_one_transaction_per_sampled_line_as_the_api_does() -> None:
    report = await run(Config(claims=40, payees=2, sample_share=Decimal("0.10"), check_per_line=True))

    verify = report["steps"]["verify"]["detail"]
    assert (verify["approved_lines"], verify["sampled_checked"]) == (40, 4)
    assert report["checks"]["claim_states"] == {"paid": 40}
    assert report["checks"]["batch_total"] == str(expected_total(40))
