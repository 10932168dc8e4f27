"""P10 audit trail in the training service: institution status changes, order-class filing and approval, and a
trainee dropped are recorded with who, role, organisation and before -> after; the chain verifies."""

from __future__ import annotations

from tests.training.support import CAREGIVER, ECOMMERCE, World, credit_code

ENTRY_KEYS = ("actor", "role", "org_id", "action", "entity_type", "entity_id", "before", "after", "reason")
ORDER = {"employer": "太原市康养服务有限公司", "credit_code": credit_code("91140100MA0000001"), "positions_promised": 30}


async def entries(ts, **filters) -> list[dict]:
    r = await ts.client.get("/v1/audit/entries", params=filters, headers=ts.headers("auditor"))
    assert r.status_code == 200, r.text
    return [{k: e[k] for k in ENTRY_KEYS} for e in r.json()["items"]]


async def verified(ts) -> dict:
    r = await ts.client.get("/v1/audit/verify", headers=ts.headers("auditor"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_P10_institution_registration_change_and_suspension_are_recorded(ts):
    w = await World(ts).setup()
    inst = w.institution_id
    r = await ts.client.patch(f"/v1/institutions/{inst}", json={"township": "城庄镇", "contact_phone": "13900000002"},
                              headers=ts.headers("admin", sub="admin-1"))
    assert r.status_code == 200, r.text
    r = await ts.client.post(f"/v1/institutions/{inst}/status", json={"status": "suspended", "reason": "虚报培训人数"},
                             headers=w.bureau)
    assert r.status_code == 200, r.text
    r = await ts.client.post(f"/v1/institutions/{inst}/status", json={"status": "suspended", "reason": "再次"},
                             headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (409, "institution_status_unchanged")  # refused: not recorded

    staff = {"actor": "staff-1", "role": "bureau", "org_id": None, "entity_type": "training_institution",
             "entity_id": inst}
    assert await entries(ts, entity_id=inst) == [
        {**staff, "action": "institution.register", "before": None, "reason": None, "after": {
            "name": "临县技工学校", "credit_code": credit_code(), "address": "临县临泉镇新城路1号", "township": "临泉镇",
            "kinds": ["entrepreneurship", "inclusive", "order", "project"],
            "occupation_codes": sorted([CAREGIVER, ECOMMERCE]), "status": "approved", "status_reason": None}},
        {**staff, "actor": "admin-1", "role": "admin", "action": "institution.change", "reason": None,
         "before": {"township": "临泉镇"}, "after": {"township": "城庄镇", "contact_changed": True}},
        {**staff, "action": "institution.suspend", "reason": "虚报培训人数",
         "before": {"status": "approved", "status_reason": None},
         "after": {"status": "suspended", "status_reason": "虚报培训人数"}},
    ]
    assert (await verified(ts))["ok"] is True


async def test_P10_order_class_filing_and_approval_are_recorded(ts):
    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER, name="养老护理员订单班")
    r = await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True, "reason": "岗位核实"},
                             headers=w.bureau)
    assert r.status_code == 200, r.text

    [opened, approved] = await entries(ts, entity_type="training_class", entity_id=c["id"])
    assert opened == {
        "actor": "org-user-1", "role": "training_org", "org_id": w.institution_id, "action": "class.open",
        "entity_type": "training_class", "entity_id": c["id"], "before": None, "reason": None, "after": {
            "institution_id": w.institution_id, "name": "养老护理员订单班", "kind": "order",
            "occupation_code": CAREGIVER, "level": 5, "start_date": c["start_date"], "end_date": c["end_date"],
            "planned_days": 5, "capacity": 30, "employer_credit_code": ORDER["credit_code"],
            "positions_promised": 30, "status": "pending_approval"}}
    assert approved == {
        "actor": "staff-1", "role": "bureau", "org_id": None, "action": "class.approve",
        "entity_type": "training_class", "entity_id": c["id"], "before": {"status": "pending_approval"},
        "after": {"status": "open", "decision_reason": "岗位核实"}, "reason": "岗位核实"}
    result = await verified(ts)
    assert (result["ok"], result["entries"]) == (True, 3)  # the institution's registration first


async def test_P10_a_dropped_trainee_is_recorded_with_the_institution(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    e, _ = await w.active_trainee(c["id"])
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/drop", json={"reason": "外出务工"}, headers=w.org)
    assert r.status_code == 200, r.text
    assert await entries(ts, action="enrolment.drop") == [{
        "actor": "org-user-1", "role": "training_org", "org_id": w.institution_id, "action": "enrolment.drop",
        "entity_type": "enrolment", "entity_id": e["id"], "before": {"status": "active", "class_id": c["id"]},
        "after": {"status": "dropped", "drop_reason": "外出务工"}, "reason": "外出务工"}]
    # Enrolling and checking in are the institution's records of what happened, not decisions: not in the trail.
    assert [x["action"] for x in await entries(ts)] == ["institution.register", "class.open", "enrolment.drop"]
    assert (await verified(ts))["entries"] == 3


async def test_P10_institutions_and_workers_may_not_verify_or_read_the_trail(ts):
    w = await World(ts).setup()
    for path in ("/v1/audit/verify", "/v1/audit/entries", "/v1/audit/head"):
        for headers in (w.org, ts.headers("worker")):
            r = await ts.client.get(path, headers=headers)
            assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), path
    r = await ts.client.get("/v1/audit/verify", headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
