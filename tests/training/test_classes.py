"""Classes (开班): S1 planned days, S2 order-class approval, I3 institution status, organisation isolation."""

from __future__ import annotations

from datetime import date, timedelta

from training_service.adapters.models import TrainingClass, kit_tables

from tests.training.support import (
    ECOMMERCE,
    World,
    class_body,
    count,
    credit_code,
    institution_body,
    outbox_payloads,
    resident_id,
    today,
)

ORDER = {"employer": "太原市康养服务有限公司", "credit_code": credit_code("91140100MA0000001"), "positions_promised": 30}


async def test_open_inclusive_class_emits_class_opened_with_day_limit(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    assert (c["status"], c["status_label"], c["seats_taken"]) == ("open", "已开班", 0)
    [event] = await outbox_payloads(ts, "class.opened.v1")
    assert event["class_id"] == c["id"] and event["institution_id"] == w.institution_id
    assert (event["kind"], event["needs_approval"], event["status"]) == ("inclusive", False, "open")
    assert event["subsidised_day_limit"] == 20  # 养老护理员 初级工 from the catalogue (S2 limit)
    assert event["outbound"] is False and event["project_reference"] is None


async def test_S1_inclusive_class_of_11_days_without_a_reason_is_refused(ts):
    w = await World(ts).setup()
    start = today()
    r = await ts.client.post(
        "/v1/classes",
        json=class_body(start_date=start.isoformat(), end_date=(start + timedelta(days=14)).isoformat(), planned_days=11),
        headers=w.org,
    )
    assert (r.status_code, r.json()["code"]) == (422, "inclusive_days_out_of_range")
    r = await ts.client.post("/v1/classes", json=class_body(planned_days=2, level=None), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "inclusive_days_out_of_range")
    r = await ts.client.post("/v1/classes", json=class_body(planned_days=5, days_reason="不需要的理由"), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "days_reason_not_needed")
    assert await count(ts, TrainingClass) == 0
    assert await count(ts, kit_tables.outbox) == 1  # only the institution's approval


async def test_S1_inclusive_class_outside_3_to_10_days_waits_for_the_bureau(ts):
    """S1 says "usually 3–10 days": outside it the class is filed with a reason and opens once the bureau approves."""
    w = await World(ts).setup()
    start = today()
    c = await w.open_class(start_date=start.isoformat(), end_date=(start + timedelta(days=14)).isoformat(),
                           planned_days=12, days_reason="山区学员居住分散，实操需延长至12天")
    assert (c["status"], c["days_reason"]) == ("pending_approval", "山区学员居住分散，实操需延长至12天")
    [opened] = await outbox_payloads(ts, "class.opened.v1")
    assert (opened["needs_approval"], opened["status"], opened["days_reason"]) == (
        True, "pending_approval", "山区学员居住分散，实操需延长至12天")
    number = resident_id(60)
    v = await w.voucher(number)
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "class_not_approved")
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    assert (r.status_code, r.json()["status"]) == (200, "open")
    [approved] = await outbox_payloads(ts, "class.approved.v1")
    assert (approved["approved"], approved["decided_by"]) == (True, "staff-1")
    assert (await w.enrol(c["id"], number, v)).status_code == 201


async def test_S1_inclusive_class_of_10_days_is_accepted(ts):
    w = await World(ts).setup()
    start = today()
    c = await w.open_class(start_date=start.isoformat(), end_date=(start + timedelta(days=11)).isoformat(),
                           planned_days=10)
    assert c["planned_days"] == 10


async def test_bad_class_plans_are_refused_and_change_nothing(ts):
    w = await World(ts).setup()
    start = today()
    cases = [
        (dict(start_date=start.isoformat(), end_date=(start - timedelta(days=1)).isoformat()),
         (422, "class_dates_reversed")),
        (dict(start_date=start.isoformat(), end_date=(start + timedelta(days=2)).isoformat(), planned_days=5),
         (422, "planned_days_exceed_dates")),
        (dict(planned_days=3), (422, "planned_days_below_minimum")),  # 初级工 needs 5 days
        (dict(level=1), (422, "occupation_level_unknown")),
        (dict(occupation_code="6-31-01-03"), (403, "institution_not_approved_for_occupation")),
        (dict(kind="caregiver"), (403, "institution_not_approved_for_kind")),
    ]
    for overrides, problem in cases:
        r = await ts.client.post("/v1/classes", json=class_body(**overrides), headers=w.org)
        assert (r.status_code, r.json()["code"]) == problem, (overrides, r.text)
    r = await ts.client.post("/v1/classes", json=class_body(kind="entrepreneurship"), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")  # course missing
    r = await ts.client.post("/v1/classes", json=class_body(kind="order"), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")  # employer order missing
    assert await count(ts, TrainingClass) == 0


async def test_I3_suspended_institution_cannot_open_a_class(ts):
    w = await World(ts).setup()
    await ts.client.post(f"/v1/institutions/{w.institution_id}/status",
                         json={"status": "suspended", "reason": "暂停招生"}, headers=w.bureau)
    r = await ts.client.post("/v1/classes", json=class_body(), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "institution_not_approved")
    assert await count(ts, TrainingClass) == 0


async def test_unknown_organisation_cannot_open_a_class(ts):
    r = await ts.client.post("/v1/classes", json=class_body(), headers=ts.headers("training_org", org="not-a-uuid"))
    assert (r.status_code, r.json()["code"]) == (403, "institution_unknown")
    r = await ts.client.post("/v1/classes", json=class_body(),
                             headers=ts.headers("training_org", org="00000000-0000-4000-8000-000000000000"))
    assert (r.status_code, r.json()["code"]) == (403, "institution_unknown")
    r = await ts.client.post("/v1/classes", json=class_body(), headers=ts.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


async def test_S2_order_class_needs_approval_before_enrolment(ts):
    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER, name="养老护理员订单班")
    assert (c["status"], c["status_label"]) == ("pending_approval", "待审核")
    assert c["order"] == {**ORDER, "credit_code": ORDER["credit_code"]}
    [opened] = await outbox_payloads(ts, "class.opened.v1")
    assert (opened["needs_approval"], opened["status"], opened["subsidised_day_limit"]) == (True, "pending_approval", 20)
    number = resident_id(1)
    v = await w.voucher(number, "order")
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "class_not_approved")
    # only the bureau decides
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert await outbox_payloads(ts, "class.approved.v1") == [
        {"class_id": c["id"], "approved": True, "reason": None, "decided_by": "staff-1"}]
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (409, "class_not_pending_approval")
    r = await w.enrol(c["id"], number, v)
    assert r.status_code == 201 and r.json()["status"] == "pending"


async def test_S2_order_class_rejected_with_reason(ts):
    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER)
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": False}, headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")  # a rejection needs a reason
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision",
                             json={"approved": False, "reason": "用工单位岗位不实"}, headers=w.bureau)
    assert r.json()["status"] == "rejected" and r.json()["decision_reason"] == "用工单位岗位不实"
    number = resident_id(1)
    v = await w.voucher(number, "order")
    r = await w.enrol(c["id"], number, v)
    assert (r.status_code, r.json()["code"]) == (409, "class_rejected")


async def test_S2_order_class_bad_employer_credit_code(ts):
    w = await World(ts).setup()
    bad = {**ORDER, "credit_code": ORDER["credit_code"][:-1] + ("0" if ORDER["credit_code"][-1] != "0" else "1")}
    r = await ts.client.post("/v1/classes", json=class_body(kind="order", order=bad), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "employer_credit_code_check_character")
    assert await count(ts, TrainingClass) == 0


async def test_E8_outbound_and_S3_project_reference_in_class_opened(ts):
    w = await World(ts).setup()
    await w.open_class(outbound=True)
    await w.open_class(kind="project", project_reference="2026-吕梁山护工提升项目")
    await w.open_class(kind="entrepreneurship", course="SYB", occupation_code=ECOMMERCE, level=None)
    events = await outbox_payloads(ts, "class.opened.v1")
    assert [(e["kind"], e["outbound"], e["project_reference"], e["course"]) for e in events] == [
        ("inclusive", True, None, None),
        ("project", False, "2026-吕梁山护工提升项目", None),
        ("entrepreneurship", False, None, "SYB"),
    ]
    assert events[2]["subsidised_day_limit"] is None
    r = await ts.client.post("/v1/classes", json=class_body(kind="order", order=ORDER, outbound=True), headers=w.org)
    assert r.status_code == 422


async def test_institution_A_never_sees_or_changes_B_classes(ts):
    a = await World(ts).setup()
    b = World(ts)
    b_inst = await b.institution(credit_code=credit_code("12141124MB000002"), name="临县职业中学")
    b.institution_id = b_inst["id"]
    b.org = ts.headers("training_org", sub="org-user-b", org=b.institution_id)
    ca = await a.open_class()
    cb = await b.open_class()
    r = await ts.client.get("/v1/classes", headers=a.org)
    assert [c["id"] for c in r.json()["items"]] == [ca["id"]]
    r = await ts.client.get("/v1/classes", params={"institution_id": b.institution_id}, headers=a.org)
    assert [c["id"] for c in r.json()["items"]] == [ca["id"]]
    r = await ts.client.get(f"/v1/classes/{cb['id']}", headers=a.org)
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    r = await ts.client.get(f"/v1/classes/{cb['id']}/enrolments", headers=a.org)
    assert r.status_code == 404
    number = resident_id(7)
    v = await a.voucher(number)
    r = await a.enrol(cb["id"], number, v)  # A tries to enrol into B's class
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    r = await ts.client.post(f"/v1/classes/{cb['id']}/outcome", headers=a.org)
    assert r.status_code == 404
    # bureau and auditors see both
    r = await ts.client.get("/v1/classes", headers=ts.headers("auditor"))
    assert {c["id"] for c in r.json()["items"]} == {ca["id"], cb["id"]}
    r = await ts.client.get("/v1/classes", headers=ts.headers("worker"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await ts.client.get(f"/v1/classes/{cb['id']}")
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")


async def test_one_class_counts_its_enrolments_by_status_lists_do_not(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    r = await ts.client.get(f"/v1/classes/{c['id']}", headers=w.org)
    assert r.json()["enrolment_counts"] == {}
    await w.active_trainee(c["id"], 1)
    await w.active_trainee(c["id"], 2)
    pending = [resident_id(3), resident_id(4)]
    for number in pending:
        assert (await w.enrol(c["id"], number, await w.voucher(number))).status_code == 201
    number = resident_id(5)
    v = await w.voucher(number)
    rejected = (await w.enrol(c["id"], number, v)).json()
    await w.reject_binding(rejected, v)
    for headers in (w.org, w.bureau, ts.headers("auditor")):
        r = await ts.client.get(f"/v1/classes/{c['id']}", headers=headers)
        assert r.json()["enrolment_counts"] == {"active": 2, "pending": 2, "rejected": 1}
        assert r.json()["seats_taken"] == 4
    r = await ts.client.get("/v1/classes", headers=w.org)
    assert [(x["id"], x["enrolment_counts"]) for x in r.json()["items"]] == [(c["id"], None)]


async def test_issue16_class_dates_must_lie_within_the_plan_year_plus_or_minus_one(ts):
    w = await World(ts).setup()
    year = today().year
    for start, end, label in ((date(year + 2, 1, 5), date(year + 2, 1, 11), "start_date"),
                              (date(year - 2, 12, 20), date(year - 2, 12, 26), "start_date"),
                              (date(year + 1, 12, 28), date(year + 2, 1, 3), "end_date"),
                              (date(9999, 1, 1), date(9999, 1, 7), "start_date")):
        r = await ts.client.post("/v1/classes", json=class_body(start_date=start.isoformat(), end_date=end.isoformat()),
                                 headers=w.org)
        assert (r.status_code, r.json()["code"]) == (422, "class_dates_outside_plan_year"), (start, r.text)
        assert r.json()["detail"] == f"{label} {(start if label == 'start_date' else end).isoformat()} is not within " \
                                     f"the plan year {year} ± 1"
    assert await count(ts, TrainingClass) == 0
    # last year's and next year's dates are plans (a class straddling New Year, a late filing)
    for start in (date(year - 1, 12, 28), date(year + 1, 12, 20)):
        r = await ts.client.post("/v1/classes", json=class_body(start_date=start.isoformat(),
                                                                end_date=(start + timedelta(days=6)).isoformat()),
                                 headers=w.org)
        assert r.status_code == 201, r.text


async def test_issue16_blank_or_control_character_names_are_refused(ts):
    bureau = ts.headers("bureau")
    for name in ("   ", "临县\n技工学校", "临县\u202e技工学校", "临县\u200b技工学校"):
        r = await ts.client.post("/v1/institutions", json=institution_body(name=name), headers=bureau)
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["location"]) == (
            422, "validation_failed", "body.name"), repr(name)
    w = await World(ts).setup()
    for name in ("  ", "班\t级"):
        r = await ts.client.post("/v1/classes", json=class_body(name=name), headers=w.org)
        assert (r.status_code, r.json()["code"]) == (422, "validation_failed"), repr(name)
    assert await count(ts, TrainingClass) == 0
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    for name in ("  ", "张\u200d三", "张\x7f三"):
        r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments", json={
            "voucher_code": v["code"], "trainee_name": name, "id_number": number}, headers=w.org)
        assert (r.status_code, r.json()["code"]) == (422, "validation_failed"), repr(name)
