"""Eligibility on evidence (issue 13, E1–E3): a category declared in the app is claimed until township or bureau staff
confirm or reject it on evidence, or the roster of the office that keeps its register confirms it in bulk; staff
registering a worker with an evidence reference confirm the categories they register. Every decision is a
`worker.category_reviewed.v1` event for the subsidy chain; staff decisions are in the audit trail (P10). E2: a
founder is confirmed with the business licence's issue date. Bad input changes nothing."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime, timedelta

from openpyxl import Workbook
from sqlalchemy import func, select

from skillkit.county import county_time, local_date
from skillkit.db import utcnow
from skillkit.pii import person_key
from voucher_service.adapters.models import CategoryReview, Worker, audit_log, kit_tables

from tests.voucher.helpers import registered_worker, worker_body
from tests.voucher.ids import resident_id

REVIEWED = "worker.category_reviewed.v1"
AUDIT_KEYS = ("actor", "role", "action", "entity_type", "entity_id", "before", "after", "reason")


async def reviewed_events(vs) -> list[dict]:
    async with vs.sessionmaker() as session:
        bodies = await session.scalars(select(kit_tables.outbox.c.body).where(
            kit_tables.outbox.c.event_type == REVIEWED).order_by(kit_tables.outbox.c.seq))
        return [json.loads(b)["data"] for b in bodies]


async def written(vs) -> tuple[int, int, int]:
    """(category reviews, reviewed events, audit entries)"""
    events = len(await reviewed_events(vs))  # not inside the session below: on SQLite it holds the write lock
    async with vs.sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(CategoryReview)), events,
                await session.scalar(select(func.count()).select_from(audit_log)))


async def audit(vs, action: str) -> list[dict]:
    r = await vs.client.get("/v1/audit/entries", params={"action": action}, headers=vs.headers("auditor", sub="a"))
    assert r.status_code == 200, r.text
    return [{k: e[k] for k in AUDIT_KEYS} for e in r.json()["items"]]


def states(body: dict) -> dict[str, tuple]:
    return {c["category"]: (c["status"], c["status_label"], c["source"], c["evidence_reference"])
            for c in body["categories"]}


def pk(vs, number: str) -> str:
    return person_key(number, vs.settings.person_key_secret)


async def review(vs, worker_id: str, sub="township-li", **body):
    return await vs.client.post(f"/v1/workers/{worker_id}/category-reviews", json=body,
                                headers=vs.headers("bureau", sub=sub))


async def test_E3_categories_declared_in_the_app_are_claimed(vs):
    await registered_worker(vs, categories=["poverty_alleviated_labour", "rural_migrant"])
    r = await vs.client.get("/v1/workers/me/categories", headers=vs.headers("worker", sub="acct-1"))
    assert r.status_code == 200, r.text
    assert states(r.json()) == {"poverty_alleviated_labour": ("claimed", "本人申报，待核实", None, None),
                                "rural_migrant": ("claimed", "本人申报，待核实", None, None)}
    assert [c["label"] for c in r.json()["categories"]] == ["脱贫劳动力", "农村转移就业劳动者"]
    assert await reviewed_events(vs) == []


async def test_E3_the_app_cannot_confirm_its_own_categories(vs):
    r = await vs.client.post("/v1/workers", json=worker_body(evidence_reference="我自己说的"),
                             headers=vs.headers("worker", sub="acct-1"))
    assert (r.status_code, r.json()["code"]) == (422, "evidence_reference_staff_only")
    async with vs.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Worker)) == 0
    worker = await registered_worker(vs)
    r = await vs.client.post(f"/v1/workers/{worker['id']}/category-reviews", headers=vs.headers("worker", sub="acct-1"),
                             json={"categories": ["rural_migrant"], "status": "confirmed", "evidence_reference": "x1"})
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


async def test_E3_staff_confirm_a_claimed_category_on_evidence(vs):
    number = resident_id(seq="201")
    worker = await registered_worker(vs, id_number=number, categories=["poverty_alleviated_labour", "rural_migrant"])
    r = await review(vs, worker["id"], categories=["poverty_alleviated_labour"], status="confirmed",
                     evidence_reference="临县脱贫人口信息系统 档案号 LX2021-0412", note="核对户口簿")
    assert r.status_code == 200, r.text
    assert states(r.json()) == {
        "poverty_alleviated_labour": ("confirmed", "已核实", "staff", "临县脱贫人口信息系统 档案号 LX2021-0412"),
        "rural_migrant": ("claimed", "本人申报，待核实", None, None)}
    confirmed = r.json()["categories"][0]
    assert (confirmed["source_label"], confirmed["reviewed_by"]) == ("乡镇或人社局工作人员核实", "township-li")

    [event] = await reviewed_events(vs)
    reviewed_at = event.pop("reviewed_at")
    assert event == {"worker_id": worker["id"], "person_key": pk(vs, number), "category": "poverty_alleviated_labour",
                     "status": "confirmed", "source": "staff",
                     "evidence_reference": "临县脱贫人口信息系统 档案号 LX2021-0412", "licence_issued_on": None,
                     "reviewed_by": "township-li"}
    assert county_time(datetime.fromisoformat(reviewed_at)) == confirmed["reviewed_at"]  # UTC on the bus, +08:00 answered
    assert await audit(vs, "worker.category_review") == [{
        "actor": "township-li", "role": "bureau", "action": "worker.category_review", "entity_type": "worker",
        "entity_id": worker["id"], "before": {"poverty_alleviated_labour": "claimed"},
        "after": {"status": "confirmed", "categories": ["poverty_alleviated_labour"],
                  "evidence_reference": "临县脱贫人口信息系统 档案号 LX2021-0412", "licence_issued_on": None},
        "reason": "核对户口簿"}]
    staff_view = await vs.client.get(f"/v1/workers/{worker['id']}/categories", headers=vs.headers("auditor", sub="a"))
    assert states(staff_view.json()) == states(r.json())


async def test_E1_a_rejected_category_makes_the_worker_eligible_for_no_new_voucher(vs):
    worker = await registered_worker(vs, categories=["rural_migrant"])
    r = await review(vs, worker["id"], categories=["rural_migrant"], status="rejected",
                     evidence_reference="村委会证明：本人常年在本村务农，未外出务工")
    assert r.status_code == 200, r.text
    assert states(r.json()) == {"rural_migrant": ("rejected", "核实未通过", "staff",
                                                  "村委会证明：本人常年在本村务农，未外出务工")}
    claim = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"},
                                 headers=vs.headers("worker", sub="acct-1"))
    assert (claim.status_code, claim.json()["code"]) == (422, "e1_not_eligible")
    assert [(e["category"], e["status"]) for e in await reviewed_events(vs)] == [("rural_migrant", "rejected")]
    # the register says otherwise later: the newest review stands
    r = await review(vs, worker["id"], categories=["rural_migrant"], status="confirmed",
                     evidence_reference="农村劳动力转移就业台账 2026-0031")
    assert states(r.json())["rural_migrant"][0] == "confirmed"
    claim = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"},
                                 headers=vs.headers("worker", sub="acct-1"))
    assert claim.status_code == 201, claim.text


async def test_E2_a_founder_is_confirmed_with_the_licence_issue_date(vs):
    worker = await registered_worker(vs, categories=["new_business_founder", "rural_migrant"])
    today = local_date(utcnow())
    refused = [
        ({"categories": ["new_business_founder"]}, "founder_licence_date_missing"),
        ({"categories": ["new_business_founder"], "licence_issued_on": str(today + timedelta(days=1))},
         "founder_licence_date_future"),
        ({"categories": ["rural_migrant"], "licence_issued_on": str(today)}, "licence_date_without_founder"),
        ({"categories": ["new_business_founder"], "status": "rejected", "licence_issued_on": str(today)},
         "licence_date_on_rejection"),
        ({"categories": ["new_business_founder"], "evidence_reference": " "}, "validation_failed"),
    ]
    before = await written(vs)
    for body, code in refused:
        r = await review(vs, worker["id"], **{"status": "confirmed", "evidence_reference": "营业执照", **body})
        assert (r.status_code, r.json()["code"]) == (422, code), body
    assert await written(vs) == before  # nothing reviewed, no event, no audit entry

    issued = today - timedelta(days=200)
    r = await review(vs, worker["id"], categories=["new_business_founder", "rural_migrant"], status="confirmed",
                     evidence_reference="营业执照 92141124MA0L2X3Y4Z", licence_issued_on=str(issued))
    assert r.status_code == 200, r.text
    assert {c["category"]: c["licence_issued_on"] for c in r.json()["categories"]} == {
        "new_business_founder": str(issued), "rural_migrant": None}
    assert [(e["category"], e["licence_issued_on"]) for e in await reviewed_events(vs)] == [
        ("new_business_founder", str(issued)), ("rural_migrant", None)]


async def test_E1_staff_registration_with_an_evidence_reference_confirms(vs):
    number = resident_id(seq="301")
    body = worker_body(id_number=number, categories=["urban_unemployed", "poverty_alleviated_labour"],
                       evidence_reference="失业登记证 1411242026000123")
    r = await vs.client.post("/v1/workers", json=body, headers=vs.headers("bureau", sub="township-li"))
    assert r.status_code == 201, r.text
    worker = r.json()
    view = await vs.client.get(f"/v1/workers/{worker['id']}/categories", headers=vs.headers("bureau", sub="x"))
    assert states(view.json()) == {
        "poverty_alleviated_labour": ("confirmed", "已核实", "staff", "失业登记证 1411242026000123"),
        "urban_unemployed": ("confirmed", "已核实", "staff", "失业登记证 1411242026000123")}
    assert [(e["category"], e["person_key"], e["reviewed_by"]) for e in await reviewed_events(vs)] == [
        ("poverty_alleviated_labour", pk(vs, number), "township-li"), ("urban_unemployed", pk(vs, number), "township-li")]
    [entry] = await audit(vs, "worker.register_on_behalf")
    assert entry["after"] == {"township": "临泉镇", "categories": ["poverty_alleviated_labour", "urban_unemployed"],
                              "evidence_reference": "失业登记证 1411242026000123", "licence_issued_on": None,
                              "confirmed": True}
    # without a reference staff only claim them, as before
    r = await vs.client.post("/v1/workers", json=worker_body(id_number=resident_id(seq="302")),
                             headers=vs.headers("bureau", sub="township-li"))
    view = await vs.client.get(f"/v1/workers/{r.json()['id']}/categories", headers=vs.headers("bureau", sub="x"))
    assert states(view.json()) == {"rural_migrant": ("claimed", "本人申报，待核实", None, None)}
    # a founder's licence date comes with the evidence it was read from
    r = await vs.client.post("/v1/workers", headers=vs.headers("bureau", sub="township-li"), json=worker_body(
        id_number=resident_id(seq="303"), categories=["new_business_founder"], licence_issued_on="2026-06-01"))
    assert (r.status_code, r.json()["code"]) == (422, "evidence_reference_missing")


async def test_E1_an_issue_roster_with_evidence_confirms_the_workers_it_registers(vs):
    staff = vs.headers("bureau", sub="township-li")
    batch = (await vs.client.post("/v1/batches", json={"name": "创业班", "kind": "entrepreneurship",
                                                       "validity_days": 90}, headers=staff)).json()
    licence = str(local_date(utcnow()) - timedelta(days=30))
    roster = "\n".join([
        "姓名,身份证号,手机号,乡镇,人员类别,证明材料,发照日期",
        f"王五,{resident_id(seq='401')},13800000001,临泉镇,new_business_founder,营业执照 A-1,{licence}",
        f"赵六,{resident_id(seq='402')},13800000002,临泉镇,returning_entrepreneur,,",  # claimed only
        f"钱七,{resident_id(seq='403')},13800000003,临泉镇,new_business_founder,营业执照 A-3,",  # no licence date
    ]).encode()
    r = await vs.client.post(f"/v1/batches/{batch['id']}/roster", files={"file": ("roster.csv", roster)}, headers=staff)
    assert r.status_code == 201, r.text
    assert (r.json()["issued"], r.json()["row_errors"]) == (2, [
        {"line": 4, "errors": ["founder_licence_date_missing: E2: confirming new_business_founder needs "
                               "licence_issued_on, the business licence's issue date"]}])
    assert [(e["category"], e["evidence_reference"], e["licence_issued_on"]) for e in await reviewed_events(vs)] == [
        ("new_business_founder", "营业执照 A-1", licence)]


async def test_E3_an_office_roster_confirms_in_bulk_and_reports_unmatched_lines(vs):
    claimed_number, other_number = resident_id(seq="501"), resident_id(seq="502")
    claimant = await registered_worker(vs, sub="acct-1", id_number=claimed_number, name="王五",
                                       categories=["monitored_household"])
    other = await registered_worker(vs, sub="acct-2", id_number=other_number, name="赵六", categories=["rural_migrant"])
    await registered_worker(vs, sub="acct-3", id_number=resident_id(seq="503"), name="钱七",
                            categories=["monitored_household"])
    roster = "\n".join([
        "姓名,身份证号,证明编号",
        f"王五,{claimed_number},监测户 2026-017",  # 2: confirms the claim
        f"赵六,{other_number},",  # 3: the register adds a category the worker had not declared
        f"孙八,{resident_id(seq='504')},",  # 4: nobody registered this number
        f"李四,{resident_id(seq='503')},",  # 5: registered under another name
        f"周九,{resident_id(seq='505')[:-1]}0,",  # 6: bad check digit
        f"王五,{claimed_number},",  # 7: twice
    ]).encode()
    form = {"office": "rural_revitalisation", "category": "monitored_household", "reference": "临县2026年防返贫监测对象名单"}
    staff = vs.headers("bureau", sub="bureau-zhang")
    r = await vs.client.post("/v1/category-rosters", data=form, files={"file": ("监测户名单.csv", roster)}, headers=staff)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["confirmed"], body["unchanged"], body["rejected"]) == (2, 0, 4)
    assert {e["line"]: e["errors"][0].split(":")[0] for e in body["row_errors"]} == {
        4: "not_registered", 5: "name_differs", 6: "id_number_check_digit", 7: "same person as line 2"}
    assert [(e["person_key"], e["category"], e["source"], e["evidence_reference"], e["reviewed_by"])
            for e in await reviewed_events(vs)] == [
        (pk(vs, claimed_number), "monitored_household", "rural_revitalisation", "监测户 2026-017", "bureau-zhang"),
        (pk(vs, other_number), "monitored_household", "rural_revitalisation", "临县2026年防返贫监测对象名单", "bureau-zhang")]
    view = await vs.client.get(f"/v1/workers/{other['id']}/categories", headers=staff)
    assert states(view.json()) == {
        "monitored_household": ("confirmed", "已核实", "rural_revitalisation", "临县2026年防返贫监测对象名单"),
        "rural_migrant": ("claimed", "本人申报，待核实", None, None)}
    assert view.json()["categories"][0]["source_label"] == "县乡村振兴局名单"
    assert claimant["id"] != other["id"]

    again = await vs.client.post("/v1/category-rosters", data=form, files={"file": ("监测户名单.csv", roster)},
                                 headers=staff)
    assert (again.json()["confirmed"], again.json()["unchanged"]) == (0, 2)
    assert len(await reviewed_events(vs)) == 2  # the register said the same again: nothing new
    entries = await audit(vs, "category_roster.import")
    assert [e["after"] for e in entries] == [
        {"office": "rural_revitalisation", "category": "monitored_household", "reference": "临县2026年防返贫监测对象名单",
         "file": "监测户名单.csv", "file_sha256": hashlib.sha256(roster).hexdigest(), "confirmed": n, "unchanged": u,
         "rejected": 4} for n, u in ((2, 0), (0, 2))]


async def test_E2_a_market_regulation_roster_reads_the_licence_dates_from_xlsx(vs):
    founder = resident_id(seq="601")
    await registered_worker(vs, id_number=founder, name="王五", categories=["new_business_founder"])
    await registered_worker(vs, sub="acct-2", id_number=resident_id(seq="602"), name="赵六",
                            categories=["new_business_founder"])
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "营业执照签发日期"])
    sheet.append(["王五", founder, datetime(2026, 5, 18)])
    sheet.append(["赵六", resident_id(seq="602"), None])
    buffer = io.BytesIO()
    book.save(buffer)
    r = await vs.client.post("/v1/category-rosters", files={"file": ("营业执照.xlsx", buffer.getvalue())},
                             data={"office": "market_regulation", "category": "new_business_founder",
                                   "reference": "县市场监管局 2026 年个体工商户登记"},
                             headers=vs.headers("bureau", sub="bureau-zhang"))
    assert r.status_code == 201, r.text
    assert (r.json()["confirmed"], [e["line"] for e in r.json()["row_errors"]]) == (1, [3])
    assert r.json()["row_errors"][0]["errors"][0].startswith("founder_licence_date_missing")
    [event] = await reviewed_events(vs)
    assert (event["person_key"], event["licence_issued_on"]) == (pk(vs, founder), str(date(2026, 5, 18)))


async def test_E1_a_roster_confirms_only_what_its_office_keeps(vs):
    await registered_worker(vs, categories=["poverty_alleviated"])
    roster = f"姓名,身份证号\n张三丰,{resident_id()}\n".encode()
    before = await written(vs)
    r = await vs.client.post("/v1/category-rosters", files={"file": ("名单.csv", roster)},
                             data={"office": "market_regulation", "category": "poverty_alleviated", "reference": "名单"},
                             headers=vs.headers("bureau", sub="bureau-zhang"))
    assert (r.status_code, r.json()["code"]) == (422, "category_not_kept_by_office")
    assert await written(vs) == before
