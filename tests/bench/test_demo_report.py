"""`make demo`'s printout (bench/demo.py `report`): what is payable to whom, the totals per payee, and the cross-check
against the subsidy service's own summary. The loop it drives is the end-to-end test's (tests/e2e)."""

from __future__ import annotations

from collections import Counter

from bench.demo import build_county, report
from bench.loop import ClassPlan, County, EvaluationInstitution, Institution, Trainee


def _county() -> County:
    school = Institution("school", "临县技工学校", "临泉镇", ["inclusive"], ["4-10-01-01"], "credit-1", id="I1")
    centre = EvaluationInstitution("临县职业技能等级认定评价中心", "credit-2", [], id="EV1")
    ana = Trainee("张安娜", "id-1", "临泉镇", ["poverty_alleviated"], 5, worker_id="W1")
    bo = Trainee("李博", "id-2", "城庄镇", ["rural_migrant"], 3, worker_id="W2")
    plan = ClassPlan(school, "家政一班", "inclusive", "4-10-01-01", 5, [ana, bo])
    return County([school], centre, [plan])


def _claim(claim_type: str, payee_type: str, payee_id: str, amount: str, rules: list[str], text: str,
           state: str = "eligible", reason: dict[str, str] | None = None) -> dict:
    return {"claim_type": claim_type, "payee_type": payee_type, "payee_id": payee_id, "amount": amount,
            "rule_ids": rules, "lines": [{"text": text}], "state": state, "state_label": "可兑现",
            "claim_type_label": "培训补贴", "reason": reason, "missing": []}


CLAIMS = [
    _claim("training", "institution", "I1", "500.00", ["S1"], "S1: 5 天 × 100 = 500.00"),
    _claim("training", "institution", "I1", "300.00", ["S1"], "S1: 3 天 × 100 = 300.00"),
    _claim("evaluation", "evaluation_institution", "EV1", "400.00", ["S8"], "S8: 初级工 400.00"),
    _claim("living_allowance", "worker", "W1", "75.00", ["S4"], "S4: 5 天 × 15 = 75.00"),
    _claim("evaluation", "evaluation_institution", "EV1", "400.00", ["S8"], "S8: 初级工 400.00", state="waiting",
           reason={"zh": "尚未取得证书", "en": "no certificate yet"}),
]


def _summary(eligible: str) -> dict:
    return {"totals": [{"state": "eligible", "amount": eligible}, {"state": "waiting", "amount": "400.00"}]}


def test_report_totals_each_payee_and_checks_the_service_summary() -> None:
    text = report(_county(), CLAIMS, _summary("1275.00"))
    lines = text.splitlines()
    assert any("临县技工学校" in line and "2 件" in line and line.endswith("800.00") for line in lines)
    assert any("临县职业技能等级认定评价中心" in line and "1 件" in line and line.endswith("400.00") for line in lines)
    assert any("劳动者 1 人" in line and line.endswith("75.00") for line in lines)
    assert any("张*娜" in line and "S4: 5 天 × 15 = 75.00" in line for line in lines)  # the worker's name is masked
    assert "张安娜" not in text
    assert any("总计 grand total" in line and line.endswith("1,275.00") for line in lines)
    assert "eligible: 1,275.00 ✓" in text
    assert any("尚未取得证书" in line and line.rstrip().endswith("1") for line in lines)


def test_report_flags_a_total_that_differs_from_the_service_summary() -> None:
    assert "eligible: 1,274.99 ✗ MISMATCH" in report(_county(), CLAIMS, _summary("1274.99"))


def test_the_demo_county_is_the_same_every_run_and_has_every_kind() -> None:
    first, again = build_county(2026), build_county(2026)
    assert [t.id_number for t in first.trainees] == [t.id_number for t in again.trainees]
    kinds = Counter(c.kind for c in first.classes)
    assert set(kinds) == {"inclusive", "order", "project", "entrepreneurship", "enterprise", "caregiver"}
    assert len(first.trainees) == 315
    assert len({t.id_number for t in first.trainees}) == 315
