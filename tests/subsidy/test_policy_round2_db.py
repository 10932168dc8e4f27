"""Issue 13 (policy fidelity, round 2) through the real consumer, PostgreSQL and the API: each test is named after
the rule it holds the service to."""

from __future__ import annotations

from decimal import Decimal

from tests.subsidy.builders import Clock, certificate, chain
from tests.subsidy.helpers import claims, feed

LA = "living_allowance:V1:main"


async def test_S4_waits_for_the_certificate_and_a_relaxing_table_records_who(ss):
    """The mission's chain by default; a version that relaxes it pays without the certificate and the claim's lines
    name the version and the bureau user who published it (P10)."""
    clock = Clock()
    await feed(ss, chain(days=4, e3=True, cert_type=None, clock=clock))
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, allowance.missing[0]["code"]) == (
        "waiting", Decimal("60.00"), "certificate_missing")
    r = await ss.client.put("/v1/policy-tables/2023", json={"s4": {"requires_certificate": False},
                                                            "note": "S4 先行发放"},
                            headers=ss.headers("bureau", sub="bureau-wang"))
    assert r.status_code == 200, r.text
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, allowance.table_version) == ("eligible", Decimal("60.00"), 2)
    assert [line["text"] for line in allowance.lines] == [
        "S4: 4 天 × 15 = 60.00", "S4: 2023 年政策表第 2 版（bureau-wang 发布）不要求证书"]


async def test_S4_default_chain_pays_once_the_certificate_arrives(ss):
    clock = Clock()
    await feed(ss, chain(days=4, e3=True, cert_type=None, clock=clock))
    await feed(ss, [certificate("P1", "CERT1", clock)])
    allowance = (await claims(ss))[LA]
    assert (allowance.state, allowance.amount, [line["text"] for line in allowance.lines]) == (
        "eligible", Decimal("60.00"), ["S4: 4 天 × 15 = 60.00"])


S6_FIRST, S6_REST = "training:V1:S6-80", "training:V1:S6-20"


def s6_chain(clock, **kw):
    return chain(kind="entrepreneurship", course="SYB", days=10, cert_type="entrepreneurship_training", clock=clock,
                 **kw)


async def test_S6_first_part_on_the_pass_rate_then_the_rest_the_moment_licences_reach_20_percent(ss):
    """Reports as the training service now sends them: the pass rate with the window open, then again per licence."""
    from datetime import date

    from tests.subsidy.builders import outcome_fact

    clock = Clock()
    window = dict(follow_up_open=True, closes_on=date(2023, 12, 15))
    await feed(ss, s6_chain(clock) + [outcome_fact("C1", "I1", "entrepreneurship", clock, attended=10, passed=10,
                                                   licensed=0, **window)])
    rows = await claims(ss)
    assert (rows[S6_FIRST].state, rows[S6_FIRST].amount) == ("eligible", Decimal("1440.00"))
    assert (rows[S6_REST].state, rows[S6_REST].reason_code, rows[S6_REST].amount) == (
        "waiting", "licence_follow_up_open", Decimal("360.00"))
    await feed(ss, [outcome_fact("C1", "I1", "entrepreneurship", clock, attended=10, passed=10, licensed=1, **window)])
    assert (await claims(ss))[S6_REST].state == "waiting"
    await feed(ss, [outcome_fact("C1", "I1", "entrepreneurship", clock, attended=10, passed=10, licensed=2, **window)])
    rows = await claims(ss)
    assert (rows[S6_FIRST].state, rows[S6_REST].state, rows[S6_REST].amount) == ("eligible", "eligible", Decimal("360.00"))


async def test_S6_rest_rejected_with_reason_when_the_window_closes_short(ss):
    from datetime import date

    from tests.subsidy.builders import outcome_fact

    clock = Clock()
    await feed(ss, s6_chain(clock) + [outcome_fact("C1", "I1", "entrepreneurship", clock, attended=10, passed=10,
                                                   licensed=1, follow_up_open=True, closes_on=date(2023, 12, 15))])
    await feed(ss, [outcome_fact("C1", "I1", "entrepreneurship", clock, attended=10, passed=10, licensed=1,
                                 closes_on=date(2023, 12, 15))])
    rows = await claims(ss)
    assert (rows[S6_FIRST].state, rows[S6_FIRST].amount) == ("eligible", Decimal("1440.00"))
    assert (rows[S6_REST].state, rows[S6_REST].reason_code) == ("rejected", "licence_rate_below")
    assert rows[S6_REST].reason_zh == "六个月跟踪期结束，取得营业执照人数占合格人数 10.0 %，未达 20.0 %"


def test_S6_online_platform_fee_line():
    from subsidy_service.domain.chain import evaluate_person
    from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

    from tests.subsidy.builders import fact_set

    table = PolicyTable.model_validate({**default_2023().model_dump(), "s6": {
        **default_2023().s6.model_dump(), "online_platform_fee": "50"}})
    facts = chain(kind="entrepreneurship", course="online", days=3, cert_type="entrepreneurship_training",
                  outcome=dict(attended=10, passed=10, licensed=5))
    first = evaluate_person("P1", fact_set(facts), Policies([table])).claims[S6_FIRST]
    assert [(line.text, line.amount) for line in first.lines] == [
        ("S6: 3 天 × 180 = 540.00；第一部分 80%：540.00 × 0.8 = 432.00", Decimal("432.00")),
        ("S6: 网络创业平台服务费 1 人 × 50 = 50.00", Decimal("50.00"))]
    assert first.amount == Decimal("482.00")


async def test_S5_claim_is_payable_to_the_enterprise_which_declares_it(ss):
    """The enterprise (registered in the training service: `enterprise.registered.v1`) is the payee; its bank account
    is registered by the bureau with it; the enterprise's own token declares the claim."""
    from skillkit.contracts.training import EnterpriseRegistered

    from tests.subsidy.builders import fact
    from tests.subsidy.settlement_support import allocate, current_quarter

    clock = Clock()
    await feed(ss, [fact(EnterpriseRegistered(enterprise_id="ENT1", name="山西临县城庄建筑工程有限公司",
                                              credit_code="91141124MA0000001X", township="城庄镇",
                                              registered_by="staff-1"), clock)])
    await feed(ss, chain(kind="enterprise", days=3, clock=clock))
    claim = (await claims(ss))["training:V1:main"]
    assert (claim.state, claim.amount, claim.payee_type, claim.payee_id, claim.institution_id) == (
        "eligible", Decimal("300.00"), "enterprise", "ENT1", "I1")
    bureau = ss.headers("bureau", sub="bureau-1")
    wrong = await ss.client.put("/v1/payees/enterprise/ENT1/account", headers=bureau, json={
        "account_name": "临县某公司", "account_number": "6217000000000000001", "bank_name": "临县农村商业银行",
        "bank_city": "吕梁"})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "account_name_mismatch")
    r = await ss.client.put("/v1/payees/enterprise/ENT1/account", headers=bureau, json={
        "account_name": "山西临县城庄建筑工程有限公司", "account_number": "6217000000000000001",
        "bank_name": "临县农村商业银行", "bank_city": "吕梁"})
    assert r.status_code == 200, r.text
    enterprise = ss.headers("enterprise", sub="ent-user-1", org="ENT1")
    other = ss.headers("enterprise", sub="ent-user-2", org="ENT2")
    r = await ss.client.get("/v1/payees/enterprise/ENT1/accounts", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "payee_not_found")
    own = (await ss.client.get("/v1/claims", headers=enterprise)).json()["items"]
    assert [(c["payee_id"], c["amount"]) for c in own] == [("ENT1", "300.00")]
    assert (await ss.client.get("/v1/claims", headers=other)).json()["items"] == []
    r = await ss.client.get(f"/v1/claims/{claim.id}", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "claim_not_found")
    summary = (await ss.client.get("/v1/claims/summary", headers=enterprise)).json()
    assert (summary["scope"], [(t["state"], t["amount"]) for t in summary["totals"]]) == ("ENT1", [("eligible", "300.00")])
    year, quarter = current_quarter()
    for y in range(2023, year + 1):
        await allocate(ss, y, "employment_subsidy", "100000.00")
    r = await ss.client.post("/v1/declarations", headers=enterprise, json={"year": year, "quarter": quarter})
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["declarant_type"], d["declarant_id"], d["line_count"], d["amount"]) == ("enterprise", "ENT1", 1, "300.00")
    institution = ss.headers("training_org", sub="org-1", org="I1")
    r = await ss.client.post("/v1/declarations", headers=institution, json={"year": year, "quarter": quarter})
    assert (r.status_code, r.json()["line_count"]) == (201, 0)  # the institution no longer claims S5


async def test_S3_staged_settlement_each_stage_its_own_claim_line_when_met(ss):
    """The bureau defines a project's stages (shares summing to 100 %); each stage becomes a claim line of its own,
    through the real consumer: enrolment verified, completion, employment recorded (training.employment_recorded)."""
    from datetime import date

    from skillkit.contracts.training import TrainingEmploymentRecorded

    from tests.subsidy.builders import fact

    bureau = ss.headers("bureau", sub="bureau-li")
    stages = [{"code": "enrolment_verified", "share": "0.30"}, {"code": "completion", "share": "0.50"},
              {"code": "employment", "share": "0.20", "employment_months": 6}]
    bad = await ss.client.put("/v1/policy-tables/2023", headers=bureau, json={"s3": {"projects": {"XM-1": {
        "daily_rate": "120", "cap": "2000", "stages": [{**stages[0], "share": "0.40"}, *stages[1:]]}}}})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    r = await ss.client.put("/v1/policy-tables/2023", headers=bureau, json={"s3": {"projects": {"XM-1": {
        "daily_rate": "120", "cap": "2000", "stages": stages}}}})
    assert r.status_code == 200, r.text
    clock = Clock()
    everything = chain(kind="project", days=10, project="XM-1", clock=clock)
    await feed(ss, [f for f in everything if f.kind not in ("completed", "certificate")])
    rows = await claims(ss)
    assert {k: (c.state, c.amount) for k, c in rows.items() if k.startswith("training")} == {
        "training:V1:S3-1": ("eligible", Decimal("360.00")), "training:V1:S3-2": ("waiting", Decimal("600.00")),
        "training:V1:S3-3": ("waiting", Decimal("240.00")),
        # the claim the voucher had before its class (and so its project's stages) was known is superseded
        "training:V1:main": ("void", Decimal("0.00"))}
    assert rows["training:V1:main"].reason_code == "claim_superseded"
    assert rows["training:V1:S3-1"].lines[0]["text"] == (
        "S3: 项目 XM-1：10 天 × 120 = 1200.00（按计划培训天数）；第 1 阶段（报名核验）30%：1200.00 × 0.3 = 360.00")
    await feed(ss, [f for f in everything if f.kind in ("completed", "certificate")])
    rows = await claims(ss)
    assert (rows["training:V1:S3-2"].state, rows["training:V1:S3-3"].reason_code) == ("eligible", "employment_missing")
    await feed(ss, [fact(TrainingEmploymentRecorded(enrolment_id="E1", voucher_id="V1", person_key="P1",
                                                    employer="太原市康养服务有限公司", employed_on=date(2023, 7, 1),
                                                    contract_months=12), clock)])
    rows = await claims(ss)
    assert [(rows[f"training:V1:S3-{n}"].state, rows[f"training:V1:S3-{n}"].amount) for n in (1, 2, 3)] == [
        ("eligible", Decimal("360.00")), ("eligible", Decimal("600.00")), ("eligible", Decimal("240.00"))]
    assert rows["training:V1:S3-3"].lines[0]["text"].endswith("第 3 阶段（就业）20%：1200.00 − 960.00 = 240.00")
