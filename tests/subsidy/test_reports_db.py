"""Report endpoints, the public disclosure and the business metrics (issue 14), on the small county of
`report_seed.py` whose every number is derived by hand there."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from sqlalchemy import func, select

from subsidy_service.adapters.report_models import RateLimitHit
from subsidy_service.adapters.report_refresh import refresh

from tests.subsidy import report_seed
from tests.subsidy.report_seed import WORKFORCE, YEAR


@pytest.fixture
async def county(ss, monkeypatch):
    monkeypatch.setattr(ss.app.state.settings, "report_township_workforce", WORKFORCE)
    async with ss.sessionmaker() as session:
        await report_seed.seed(session)
        await refresh(session)  # the read models, as the periodic job would
        await session.commit()
    ss.app.state.disclosure_cache._items.clear()
    return ss


def stages(body: dict) -> tuple:
    return tuple(body[s] for s in ("issued", "bound", "completed", "evaluated", "certified", "eligible", "paid"))


async def get(ss, path: str, role: str = "bureau", **params) -> dict:
    r = await ss.client.get(path, params=params, headers=ss.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


async def test_funnel_total_and_by_township(county):
    body = await get(county, "/v1/reports/funnel", year=YEAR, by="township")
    assert stages(body["total"]) == (9, 8, 7, 6, 4, 4, 2)
    assert [(g["key"], stages(g)) for g in body["groups"]] == [
        ("临泉镇", (6, 5, 5, 4, 3, 3, 2)), ("白文镇", (3, 3, 2, 2, 1, 1, 0))]
    assert [s["label"] for s in body["stages"]] == ["发券", "绑定", "结业", "考核合格", "取证", "可兑现", "已支付"]


async def test_funnel_by_quarter_institution_kind_month_and_class(county):
    q1 = await get(county, "/v1/reports/funnel", year=YEAR, quarter=1)
    assert stages(q1["total"]) == (5, 4, 4, 3, 2, 2, 1)
    by_institution = await get(county, "/v1/reports/funnel", year=YEAR, by="institution")
    assert [(g["key"], g["label"], g["issued"], g["paid"]) for g in by_institution["groups"]] == [
        ("I1", "临县技工学校", 5, 1), ("I2", "吕梁山护工培训中心", 3, 1), ("未知", "未知", 1, 0)]
    by_kind = await get(county, "/v1/reports/funnel", year=YEAR, by="kind")
    assert [(g["label"], g["issued"], g["certified"]) for g in by_kind["groups"]] == [
        ("吕梁山护工培训券", 3, 2), ("普惠制培训券", 4, 1), ("订单式培训券", 2, 1)]
    by_month = await get(county, "/v1/reports/funnel", year=YEAR, by="month")
    assert [(g["key"], g["issued"]) for g in by_month["groups"]] == [("2023-02", 5), ("2023-05", 4)]
    drill = await get(county, "/v1/reports/funnel", year=YEAR, township="临泉镇", institution_id="I1", by="class")
    assert [(g["key"], g["label"], stages(g)) for g in drill["groups"]] == [
        ("C1", "C1（4-10-01-01，2023-03-01开班）", (3, 3, 3, 2, 1, 1, 1))]
    one_class = await get(county, "/v1/reports/funnel", year=YEAR, class_id="C3")
    assert stages(one_class["total"]) == (2, 2, 1, 1, 1, 1, 0)


async def test_T1_to_T5_progress(county):
    body = await get(county, "/v1/reports/targets", year=YEAR)
    t1, t2 = body["t1_trained"], body["t2_caregivers"]
    assert (t1["rule_id"], t1["value"], t1["target"], t1["progress_percent"], t1["reached"]) == (
        "T1", 7, 3600, "0.2", False)
    assert (t2["rule_id"], t2["value"], t2["target"], t2["progress_percent"]) == ("T2", 3, 2200, "0.1")
    employment, certification = body["t3_employment"], body["t3_certification"]
    assert (employment["numerator"], employment["denominator"], employment["rate_percent"],
            employment["threshold_percent"], employment["reached"]) == (2, 3, "66.7", "60.0", True)
    assert (certification["numerator"], certification["denominator"], certification["rate_percent"],
            certification["reached"]) == (2, 3, "66.7", False)
    # T4: CERT7 was revoked (P7 holds none); P9 holds an E7 certificate without a voucher
    assert [(t["township"], t["numerator"], t["denominator"], t["rate_percent"], t["reached"])
            for t in body["t4_townships"]] == [("临泉镇", 3, 10, "30.0", False), ("白文镇", 2, 4, "50.0", True)]
    county_rate = body["t4_county"]
    assert (county_rate["numerator"], county_rate["denominator"], county_rate["rate_percent"],
            county_rate["reached"]) == (5, 14, "35.7", True)
    # T5: C1 (inclusive) 1 of 3 certified is below 50 %; C3 (order) 1 of 2 is exactly 50 % and reaches it
    assert (body["t5_classes"], body["t5_classes_reached"], body["t5_below_total"]) == (2, 1, 1)
    assert [(c["class_id"], c["institution_name"], c["numerator"], c["denominator"], c["rate_percent"])
            for c in body["t5_below"]] == [("C1", "临县技工学校", 1, 3, "33.3")]


async def test_money_by_rule_payee_and_state(county):
    by_rule = await get(county, "/v1/reports/money", year=YEAR, by="rule")
    assert [(g["key"], g["label"], g["count"], g["amount"]) for g in by_rule["groups"]] == [
        ("S1", "S1 普惠制培训补贴", 1, "500.00"), ("S2", "S2 订单式培训补贴", 1, "1900.00"),
        ("S4", "S4 生活费补贴", 1, "120.00"), ("S7", "S7 吕梁山护工培训补贴", 3, "1600.00"),
        ("S8", "S8 技能评价补贴", 1, "400.00")]
    assert by_rule["total"] == {"count": 7, "amount": "4520.00"}
    s7 = next(g for g in by_rule["groups"] if g["key"] == "S7")
    assert s7["by_state"] == {"eligible": {"count": 1, "amount": "800.00"}, "paid": {"count": 1, "amount": "800.00"},
                              "waiting": {"count": 1, "amount": "0.00"}}
    by_payee = await get(county, "/v1/reports/money", year=YEAR, by="payee", role="finance")
    assert [(g["key"], g["label"], g["amount"]) for g in by_payee["groups"]] == [
        ("evaluation_institution/E1", "临县职业技能评价中心", "400.00"), ("institution/I1", "临县技工学校", "2400.00"),
        ("institution/I2", "吕梁山护工培训中心", "1600.00"), ("worker/W6", "陈*芳", "120.00")]
    by_state = await get(county, "/v1/reports/money", year=YEAR, by="state", role="auditor")
    assert [(g["key"], g["label"], g["count"], g["amount"]) for g in by_state["groups"]] == [
        ("declared", "已申报", 1, "1900.00"), ("eligible", "可兑现", 1, "800.00"), ("paid", "已支付", 4, "1820.00"),
        ("waiting", "等待中", 1, "0.00")]
    paid_q2 = await get(county, "/v1/reports/money", year=YEAR, quarter=2, by="state")
    assert [(g["key"], g["count"], g["amount"]) for g in paid_q2["groups"]] == [("paid", 2, "900.00")]
    township = await get(county, "/v1/reports/money", year=YEAR, township="白文镇", by="state")
    assert [(g["key"], g["amount"]) for g in township["groups"]] == [("declared", "1900.00"), ("waiting", "0.00")]


async def test_funds_allocated_reserved_paid(county):
    body = await get(county, "/v1/reports/funds", year=YEAR, role="finance")
    assert [(f["code"], f["label"], f["allocated"], f["reserved"], f["paid"], f["available"]) for f in body["funds"]] == [
        ("employment_subsidy", "就业补助资金", "5000.00", "0.00", "920.00", "4080.00"),
        ("skills_special", "职业技能专账资金", "10000.00", "1900.00", "900.00", "7200.00")]
    assert (body["total"]["allocated"], body["total"]["available"]) == ("15000.00", "11280.00")


async def test_pipeline_without_a_broker_says_why_and_counts_the_outbox(county, monkeypatch):
    monkeypatch.setattr(county.app.state.lag_reader, "bootstrap", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setattr(county.app.state.lag_reader, "_cached", None)
    body = await get(county, "/v1/reports/pipeline", role="admin")
    assert body["lag_available"] is False and body["lag_source"] == "kafka_admin"
    assert body["lag_unavailable_reason"]
    assert (body["outbox_backlog"], body["outbox_oldest_age_seconds"], body["inbox_newest"]) == (0, None, [])


async def test_filter_options(county):
    body = await get(county, "/v1/reports/filters")
    assert body["years"] == [2024, 2023]
    assert [t["value"] for t in body["townships"]] == ["临泉镇", "白文镇"]
    assert body["institutions"] == [{"value": "I1", "label": "临县技工学校"}, {"value": "I2", "label": "吕梁山护工培训中心"}]


@pytest.mark.parametrize("role", ["training_org", "evaluation_org", "worker"])
async def test_reports_refuse_other_roles(county, role):
    for path in ("/v1/reports/targets", "/v1/reports/funnel", "/v1/reports/money", "/v1/reports/funds",
                 "/v1/reports/pipeline"):
        r = await county.client.get(path, headers=county.headers(role, org="I1"))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await county.client.get("/v1/reports/targets")
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")


async def test_P7_disclosure_per_quarter_payee_funds_and_audit_head(county):
    r = await county.client.get("/v1/public/disclosure", params={"year": YEAR})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=60"
    body = r.json()
    quarters = {q["quarter"]: q for q in body["quarters"]}
    assert [(p["payee_type_label"], p["payee_name"], p["persons"], p["amount"]) for p in quarters[2]["payees"]] == [
        ("评价机构", "临县职业技能评价中心", 1, "400.00"), ("培训机构", "临县技工学校", 1, "500.00")]
    assert [(p["payee_type"], p["payee_id"], p["payee_name"], p["amount"]) for p in quarters[3]["payees"]] == [
        ("institution", "I2", "吕梁山护工培训中心", "800.00"), ("worker", "", None, "120.00")]
    assert (quarters[1]["payees"], quarters[1]["amount"], quarters[2]["amount"], quarters[3]["amount"]) == (
        [], "0.00", "900.00", "920.00")
    assert [(f["label"], f["amount"]) for f in quarters[2]["funds_used"]] == [("职业技能专账资金", "900.00")]
    assert [(f["label"], f["amount"]) for f in quarters[3]["funds_used"]] == [("就业补助资金", "920.00")]
    assert [(t["rule_id"], t.get("value", t.get("rate_percent"))) for t in body["targets"]] == [
        ("T1", 7), ("T2", 3), ("T3", "66.7"), ("T3", "66.7"), ("T4", "35.7")]
    assert body["audit_head"] == {"head_id": None, "head_hash": "0" * 64, "head_at": None}


async def test_P7_person_list_masks_names_and_shows_nothing_else(county):
    r = await county.client.get("/v1/public/disclosure/persons",
                                params={"year": YEAR, "payee_type": "institution", "payee_id": "I1"})
    body = r.json()
    assert (body["total"], body["items"]) == (1, [
        {"masked_name": "张*三", "voucher_id": "V1", "kind_label": "普惠制培训券", "amount": "500.00"}])
    workers = (await county.client.get("/v1/public/disclosure/persons",
                                       params={"year": YEAR, "payee_type": "worker", "payee_id": "W6"})).json()
    assert (workers["payee_id"], workers["items"]) == ("", [
        {"masked_name": "陈*芳", "voucher_id": "V6", "kind_label": "生活费补贴", "amount": "120.00"}])


async def test_P7_disclosure_is_rate_limited_per_client(county, monkeypatch):
    limiter = county.app.state.disclosure_limiter
    monkeypatch.setattr(limiter, "limit", 3)
    monkeypatch.setattr(limiter, "clock", lambda: 1_000_000.0)  # one fixed window
    answers = [(await county.client.get("/v1/public/disclosure", params={"year": YEAR})).status_code
               for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = await county.client.get("/v1/public/disclosure/persons",
                                      params={"year": YEAR, "payee_type": "institution", "payee_id": "I1"})
    assert (refused.status_code, refused.json()["code"], refused.headers["retry-after"]) == (
        429, "rate_limited", "20")
    async with county.sessionmaker() as session:  # one row for the client, its address not stored
        rows = (await session.execute(select(RateLimitHit.client, RateLimitHit.hits))).all()
    assert len(rows) == 1 and rows[0].hits == 5 and "127.0.0.1" not in rows[0].client
    assert await _count_rate_rows(county) == 1


async def _count_rate_rows(ss) -> int:
    async with ss.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(RateLimitHit))


async def test_business_metrics_follow_the_targets(county):
    await get(county, "/v1/reports/targets", year=YEAR)
    text = generate_latest().decode()
    assert 'subsidy_target_value{rule="T1",target="t1_trained"} 7.0' in text
    assert 'subsidy_target_goal{rule="T1",target="t1_trained"} 3600.0' in text
    assert 'subsidy_target_value{rule="T4",target="t4_county"} 35.7' in text
    assert "subsidy_t5_classes_below 1.0" in text


async def test_the_read_models_follow_claims_townships_certificates_and_new_vouchers(county):
    from datetime import datetime, timezone
    from sqlalchemy import insert, update
    from skillkit.db import utcnow
    from subsidy_service.adapters.models import ChainRow, Claim, FactRow, Person

    now = utcnow()
    async with county.sessionmaker() as session:
        # nothing moved: no voucher is rewritten; the certificate holders within the window of the newest fact ids
        # (late commits) are recomputed every time — here all six
        assert await refresh(session) == {"full": False, "vouchers": 0, "persons": 6}
        await session.execute(update(Claim).where(Claim.subject_id == "V5", Claim.claim_type == "training")
                              .values(state="paid", paid_at=now, updated_at=now))
        await session.execute(update(Person).where(Person.person_key == "P4").values(township="白文镇", updated_at=now))
        await session.execute(insert(FactRow), [dict(
            kind="certificate_revoked", key="CERT1", event_type="certificate.revoked.v1", event_id="revoke-1",
            event_time=now, person_key="P1", data={"reason": "fraud"}, received_at=now)])
        await session.execute(insert(ChainRow), [dict(
            voucher_id="V11", person_key="P4", kind="inclusive", policy_year=YEAR, status="waiting", links=[],
            created_at=datetime(2023, 6, 1, tzinfo=timezone.utc), updated_at=now)])
        # V5 (its claim), V4 and V11 (P4 moved; V11 is new); the six holders and P4
        assert await refresh(session) == {"full": False, "vouchers": 3, "persons": 7}
        await session.commit()
    body = await get(county, "/v1/reports/funnel", year=YEAR, by="township")
    assert stages(body["total"]) == (10, 8, 7, 6, 4, 4, 3)
    assert [(g["key"], g["issued"], g["paid"]) for g in body["groups"]] == [("临泉镇", 5, 3), ("白文镇", 5, 0)]
    targets = await get(county, "/v1/reports/targets", year=YEAR)
    assert [(t["township"], t["numerator"]) for t in targets["t4_townships"]] == [("临泉镇", 2), ("白文镇", 2)]


async def test_answers_are_kept_until_the_next_refresh(county):
    from sqlalchemy import update
    from skillkit.db import utcnow
    from subsidy_service.adapters.models import Claim

    before = await get(county, "/v1/reports/money", year=YEAR, by="state")
    async with county.sessionmaker() as session:
        await session.execute(update(Claim).where(Claim.subject_id == "V5", Claim.claim_type == "training")
                              .values(state="paid", paid_at=utcnow(), updated_at=utcnow()))
        await session.commit()
    # the same refresh: the same answer (a page's numbers all belong to one refresh)
    assert await get(county, "/v1/reports/money", year=YEAR, by="state") == before
    async with county.sessionmaker() as session:
        await refresh(session)
        await session.commit()
    after = await get(county, "/v1/reports/money", year=YEAR, by="state")
    assert [(g["key"], g["count"], g["amount"]) for g in after["groups"]] == [
        ("declared", 1, "1900.00"), ("paid", 5, "2620.00"), ("waiting", 1, "0.00")]
    assert stages((await get(county, "/v1/reports/funnel", year=YEAR))["total"])[-1] == 3


async def test_pages_and_the_vendored_echarts_are_served_by_the_service(ss):
    dashboard = await ss.client.get("/dashboard")
    assert dashboard.status_code == 200 and dashboard.headers["content-type"].startswith("text/html")
    assert "运营看板" in dashboard.text and '<script src="/static/vendor/echarts.min.js">' in dashboard.text
    assert "http" not in dashboard.text.split("<body>")[0].replace('http-equiv', '')  # nothing loaded from outside
    disclosure = await ss.client.get("/disclosure")
    assert disclosure.status_code == 200 and "公示" in disclosure.text
    echarts = await ss.client.get("/static/vendor/echarts.min.js")
    assert echarts.status_code == 200 and "javascript" in echarts.headers["content-type"]
    assert len(echarts.content) > 1_000_000
    licence = await ss.client.get("/static/vendor/ECHARTS-LICENSE")
    assert "Apache License" in licence.text


async def test_the_refresh_job_computes_the_dashboards_opening_view(county):
    from subsidy_service.api.reports import filters as report_filters, warm

    cache = county.app.state.report_cache
    cache._items.clear()
    await warm(county.sessionmaker, cache, WORKFORCE)
    f = report_filters(2024, None)  # the newest year of the county
    assert {key for key in cache._items} == {
        ("filters",), ("targets", f), ("funnel", f, None), ("funnel", f, "month"), ("funnel", f, "kind"),
        ("funnel", f, "township"), ("money", f, "rule")}
    issued = cache._items[("funnel", f, None)][1]["total"]["issued"]
    assert issued == 1 == (await get(county, "/v1/reports/funnel", year=2024))["total"]["issued"]
