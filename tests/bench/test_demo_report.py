"""`make demo`'s printout (bench/demo.py `report`): what is payable to whom, the totals per payee, and the cross-check
against the subsidy service's own summary; then the settlement (bench/demo_settlement.py): allocations, the fake
bank's answer, and what was declared and paid with the per-fund ledger. The loop it drives is the end-to-end
test's (tests/e2e)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

from bench.demo import build_county, report
from bench.demo_settlement import Settlement, allocations_for, bank_answer, settlement_report
from testsupport.county import ClassPlan, County, EvaluationInstitution, Institution, Trainee
from subsidy_service.adapters.bank_files import PaymentFile, answer_rows, read_answer, to_csv


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


# --- part 2: the settlement printout (bench/demo_settlement.py) ------------------------------------------------

def test_allocations_cover_the_approved_total_and_split_it_over_two_funds() -> None:
    allocations = allocations_for({2026: {"training": Decimal("123456.78"), "living": Decimal("2100.00")}})
    assert [(a["year"], a["code"], a["amount"]) for a in allocations] == [
        (2026, "skills_special", "74000"),  # 60 % of 123,456.78 = 74,074.07, whole thousands down
        (2026, "employment_subsidy", "62000"),  # 49,456.78 + 2,100.00 + 10,000 margin = 61,556.78, thousands up
    ]
    total = sum(Decimal(a["amount"]) for a in allocations)
    assert total >= Decimal("123456.78") + Decimal("2100.00")


def test_the_fake_bank_answers_every_exported_line_paid() -> None:
    exported = PaymentFile("0512000100000000001", "临县财政局社保资金专户", "中国工商银行临县支行", "职业技能培训补贴",
                           date(2026, 12, 6), "LX20261206ABCD1234", Decimal("1500.50"),
                           [(1, "622848000000000001", "临县技工学校", Decimal("1000.00"), "中国工商银行临县支行", "吕梁市"),
                            (2, "622848000000000002", "张安娜", Decimal("500.50"), "中国农业银行临县支行", "吕梁市")])
    reference, lines = bank_answer(to_csv(exported.rows()).decode("utf-8"))
    assert reference == "LX20261206ABCD1234"
    assert lines == [(1, "622848000000000001", "临县技工学校", Decimal("1000.00"), "paid", None),
                     (2, "622848000000000002", "张安娜", Decimal("500.50"), "paid", None)]
    answer = read_answer("回单.csv", to_csv(answer_rows(reference, lines)))
    assert (answer.reference, answer.total, answer.count) == ("LX20261206ABCD1234", Decimal("1500.50"), 2)
    assert [line.status for line in answer.lines] == ["paid", "paid"]


def _settlement():
    result = Settlement(2026, 4)
    result.declarations = [
        {"declarant_type": "institution", "declarant_id": "I1", "line_count": 2, "amount": "800.00"},
        {"declarant_type": "worker", "declarant_id": "county", "line_count": 1, "amount": "75.00"},
    ]
    result.names = {("institution", "I1"): "临县技工学校", ("worker", "county"): "临县人社局（代劳动者申报）"}
    result.decisions = Counter(approved=3, rejected=1, evidence_checked=1)
    result.rejections = Counter({"省培训实名制系统退回": 1})
    result.unverified = [("临县职业技能等级认定评价中心", 290, "GET …/lines: 500 internal_error")]
    result.allocations = [{"year": 2026, "code": "skills_special", "amount": "0", "reference": "吕财社〔2026〕31号"},
                          {"year": 2026, "code": "employment_subsidy", "amount": "11000", "reference": "吕财社〔2026〕32号"}]
    result.batch = {"reference": "LX20261206ABCD1234", "claim_count": 3, "transfer_count": 2, "total": "875.00",
                    "draws": [{"code": "employment_subsidy", "amount": "875.00"}]}
    result.exported_lines = 2
    result.imported = {"paid": 2, "paid_amount": "875.00", "failed": 0}
    result.funds = [{"id": "F1", "year": 2026, "code": "employment_subsidy", "allocated": "11000.00",
                     "reserved": "0.00", "paid": "875.00", "available": "10125.00"}]
    result.ledger = {"F1": [
        {"id": 1, "entry_type": "allocation", "amount": "11000.00", "reference": "吕财社〔2026〕32号"},
        {"id": 2, "entry_type": "reserve", "amount": "875.00", "reference": "LX20261206ABCD1234"},
        {"id": 3, "entry_type": "pay", "amount": "875.00", "reference": "LX20261206ABCD1234"}]}
    result.paid_claims, result.paid_amount = 3, Decimal("875.00")
    return result


def test_settlement_report_prints_declarations_the_batch_and_each_funds_ledger() -> None:
    text = settlement_report(_settlement())
    lines = text.splitlines()
    assert "兑现 — 2026年第4季度" in text
    assert any("临县技工学校" in line and "培训机构" in line and line.endswith("800.00") for line in lines)
    assert any("临县人社局（代劳动者申报）" in line and line.endswith("75.00") for line in lines)
    assert "3 lines approved, 1 rejected, 1 sampled lines' evidence checked" in text
    assert "不通过 rejected ×1: 省培训实名制系统退回" in text
    assert ("未能验收 not verified: 临县职业技能等级认定评价中心: 290 flagged lines could not be read "
            "(GET …/lines: 500 internal_error); left submitted, not in the batch") in text
    assert ("支付批次 batch LX20261206ABCD1234: 3 claims in 2 transfers, total 875.00; drawn 就业补助资金 875.00"
            in text)
    assert "result file imported: 2 paid 875.00, 0 failed" in text
    assert "2026 就业补助资金: 下达 11,000.00  预留 0.00  已付 875.00  可用 10,125.00" in text
    assert [line.split()[1] for line in lines if line.startswith("    #")] == ["下达", "预留", "支付"]
    assert "paid from funds 875.00; batch total 875.00; claims paid 3, 875.00 ✓" in text


def test_settlement_report_flags_funds_that_disagree_with_the_claims_paid() -> None:
    result = _settlement()
    result.paid_amount = Decimal("874.99")
    assert "claims paid 3, 874.99 ✗ MISMATCH" in settlement_report(result)
