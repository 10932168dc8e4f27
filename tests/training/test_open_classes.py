"""The class catalogue for workers and interest in a class (报名意向, P9), confirmed by the institution's enrolment."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text, update

from training_service.adapters.models import ClassInterest, TrainingClass

from tests.training.support import World, count, institution_body, credit_code, resident_id, today

COOK = "4-03-02-01"


async def test_catalogue_lists_open_classes_soonest_first_with_names_and_seats_left(ts):
    w = await World(ts).setup()
    later = await w.open_class(name="养老护理员普惠制培训班（二期）", start_date=(today() + timedelta(days=10)).isoformat(),
                               end_date=(today() + timedelta(days=16)).isoformat(), capacity=20)
    running = await w.open_class()  # started five days ago, runs over today
    await w.open_class(name="已结束的班", start_date=(today() - timedelta(days=20)).isoformat(),
                       end_date=(today() - timedelta(days=14)).isoformat())
    number = resident_id(1)
    assert (await w.enrol(running["id"], number, await w.voucher(number))).status_code == 201
    r = await ts.client.get("/v1/open-classes")  # public: no token
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["id"] for i in items] == [running["id"], later["id"]]
    first = items[0]
    assert first["institution"] == {"id": w.institution_id, "name": "临县技工学校", "township": "临泉镇",
                                    "address": "临县临泉镇新城路1号", "contact_phone": "13800000001"}
    assert (first["kind_label"], first["occupation_name"], first["level"], first["level_label"]) == (
        "普惠制培训券", "养老护理员", 5, "初级工")
    assert (first["capacity"], first["seats_left"], first["venue"]) == (30, 29, "临县技工学校实训楼301")
    assert first["teachers"] is None  # the detail only


async def test_catalogue_filters_and_pages(ts):
    w = await World(ts).setup()
    other = await World(ts).setup(name="白文镇职业培训学校", credit_code=credit_code("12141124MB000002"),
                                  township="白文镇", address="白文镇政府街8号")
    days = [today() + timedelta(days=d) for d in (1, 2, 3)]
    here = [await w.open_class(name=f"第{i}期", start_date=d.isoformat(), end_date=(d + timedelta(days=6)).isoformat())
            for i, d in enumerate(days, 1)]
    there = await other.open_class(name="白文镇班", start_date=days[0].isoformat(),
                                   end_date=(days[0] + timedelta(days=6)).isoformat())
    full = await w.open_class(name="满员班", capacity=1)
    number = resident_id(2)
    assert (await w.enrol(full["id"], number, await w.voucher(number))).status_code == 201

    async def ids(**params):
        r = await ts.client.get("/v1/open-classes", params=params)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert await ids(township="白文镇") == [there["id"]]
    assert await ids(township="临泉镇", with_seats=True) == [c["id"] for c in here]
    assert await ids(starts_from=days[1].isoformat()) == [here[1]["id"], here[2]["id"]]
    assert await ids(kind="order") == [] and await ids(occupation_code=COOK) == [] and await ids(level=4) == []
    assert await ids(institution_id=other.institution_id) == [there["id"]]
    pages, cursor = [], None
    while True:
        r = (await ts.client.get("/v1/open-classes", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        pages.append([i["name"] for i in r["items"]])
        if not (cursor := r["next_cursor"]):
            break
    assert len(pages) == 3 and sum(len(p) for p in pages) == 5 and pages[0][0] == "满员班"
    r = await ts.client.get("/v1/open-classes", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert (r.status_code, r.json()["code"]) == (400, "cursor_invalid")


async def test_class_detail_and_no_detail_for_a_class_not_open(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    r = await ts.client.get(f"/v1/open-classes/{c['id']}")
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["teachers"], r.json()["outbound"]) == ("养老护理员普惠制培训班", ["李老师"], False)
    r = await ts.client.post(f"/v1/institutions/{w.institution_id}/status",
                             json={"status": "suspended", "reason": "虚报培训人数"}, headers=w.bureau)
    assert r.status_code == 200, r.text
    r = await ts.client.get(f"/v1/open-classes/{c['id']}")  # I3: a suspended institution's classes leave the catalogue
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    assert (await ts.client.get("/v1/open-classes")).json()["items"] == []


async def test_P9_interest_is_seen_by_the_institution_and_confirmed_by_enrolling_with_the_voucher(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(3)
    v = await w.voucher(number)
    worker = ts.headers("worker", sub="wx-openid-3", **{"Idempotency-Key": "interest-3"})
    body = {"contact_name": "张三", "mobile": "13812345678", "voucher_code": v["code"], "note": "周末方便"}
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json=body, headers=worker)
    assert r.status_code == 201, r.text
    interest = r.json()
    assert (interest["class_name"], interest["institution_name"], interest["status"], interest["status_label"]) == (
        "养老护理员普惠制培训班", "临县技工学校", "interested", "已报名意向")
    replay = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json=body, headers=worker)
    assert replay.json() == interest and replay.headers["Idempotent-Replayed"] == "true"
    again = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json={**body, "mobile": "13900000000"},
                                 headers=ts.headers("worker", sub="wx-openid-3"))
    # a POST's answer is kept in the idempotency table: masked (issue 16)
    assert (again.status_code, again.json()["id"], again.json()["mobile_masked"], again.json()["mobile"]) == (
        200, interest["id"], "139****0000", None)
    assert await count(ts, ClassInterest) == 1

    seen = (await ts.client.get(f"/v1/classes/{c['id']}/interests", headers=w.org)).json()["items"]
    assert [(i["contact_name"], i["mobile"], i["voucher_code"], i["status"]) for i in seen] == [
        ("张三", "13900000000", v["code"], "interested")]
    other = await World(ts).setup(name="另一所学校", credit_code=credit_code("12141124MB000003"))
    r = await ts.client.get(f"/v1/classes/{c['id']}/interests", headers=other.org)
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")

    r = await w.enrol(c["id"], number, v)  # the institution confirms: enrols the worker with the voucher
    assert r.status_code == 201
    mine = (await ts.client.get("/v1/interests/mine", headers=ts.headers("worker", sub="wx-openid-3"))).json()["items"]
    assert [(i["status"], i["enrolment_id"], i["enrolment_status"]) for i in mine] == [
        ("enrolled", r.json()["id"], "pending")]
    r = await ts.client.post(f"/v1/interests/{interest['id']}/withdraw", headers=ts.headers("worker", sub="wx-openid-3"))
    assert (r.status_code, r.json()["code"]) == (409, "interest_enrolled")


async def test_interest_by_person_key_confirmed_by_an_enrolment_file_and_withdrawal(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    from tests.training.support import pk_of
    from skillkit.auth import mint_token

    number = resident_id(4)
    token = mint_token(ts.settings, "worker", "wx-openid-4", person_key=pk_of(number))  # a WeChat login's token
    worker = {"Authorization": f"Bearer {token}"}
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests",
                             json={"contact_name": "李四", "mobile": "13812340004"}, headers=worker)
    assert r.status_code == 201 and r.json()["voucher_code"] is None
    other_worker = ts.headers("worker", sub="wx-openid-5")
    r5 = await ts.client.post(f"/v1/open-classes/{c['id']}/interests",
                              json={"contact_name": "王五", "mobile": "13812340005"}, headers=other_worker)
    withdrawn = await ts.client.post(f"/v1/interests/{r5.json()['id']}/withdraw", headers=other_worker)
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")
    r = await ts.client.post(f"/v1/interests/{r5.json()['id']}/withdraw", headers=worker)  # not theirs
    assert (r.status_code, r.json()["code"]) == (404, "interest_not_found")

    v = await w.voucher(number)
    csv = f"voucher_code,trainee_name,id_number\n{v['code']},李四,{number}\n".encode()
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", files={"file": ("e.csv", csv, "text/csv")},
                             headers=w.org)
    assert r.status_code == 201, r.text
    statuses = {i["contact_name"]: i["status"] for i in
                (await ts.client.get(f"/v1/classes/{c['id']}/interests", headers=w.bureau)).json()["items"]}
    assert statuses == {"李四": "enrolled", "王五": "withdrawn"}


async def test_interest_refused_for_a_full_or_unknown_class_and_for_other_roles(ts):
    w = await World(ts).setup()
    c = await w.open_class(capacity=1)
    number = resident_id(6)
    assert (await w.enrol(c["id"], number, await w.voucher(number))).status_code == 201
    body = {"contact_name": "赵六", "mobile": "13812340006"}
    worker = ts.headers("worker", sub="wx-openid-6")
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json=body, headers=worker)
    assert (r.status_code, r.json()["code"]) == (409, "class_full")
    r = await ts.client.post(f"/v1/open-classes/{uuid.uuid4()}/interests", json=body, headers=worker)
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json=body, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests", json={**body, "mobile": "12345"}, headers=worker)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await count(ts, ClassInterest) == 0


async def test_issue16_an_interests_mobile_is_encrypted_at_rest_and_in_full_only_to_the_worker_and_the_institution(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    worker = ts.headers("worker", sub="wx-openid-16", **{"Idempotency-Key": "interest-16"})
    r = await ts.client.post(f"/v1/open-classes/{c['id']}/interests",
                             json={"contact_name": "张三", "mobile": "13812345678"}, headers=worker)
    assert (r.status_code, r.json()["mobile_masked"], r.json()["mobile"]) == (201, "138****5678", None)
    mine = (await ts.client.get("/v1/interests/mine", headers=worker)).json()["items"]
    assert [(i["mobile_masked"], i["mobile"]) for i in mine] == [("138****5678", "13812345678")]
    seen = (await ts.client.get(f"/v1/classes/{c['id']}/interests", headers=w.org)).json()["items"]
    assert [(i["mobile_masked"], i["mobile"]) for i in seen] == [("138****5678", "13812345678")]  # P9: calls back
    for role in ("bureau", "admin", "auditor"):
        r = await ts.client.get(f"/v1/classes/{c['id']}/interests", headers=ts.headers(role))
        assert [(i["mobile_masked"], i["mobile"]) for i in r.json()["items"]] == [("138****5678", None)], role
        assert "13812345678" not in r.text
    async with ts.sessionmaker() as session:
        stored = (await session.execute(text("SELECT * FROM class_interests"))).mappings().one()
        kept = " ".join(str(row) for row in (await session.execute(text("SELECT response_body FROM idempotency_keys"))).all())
    assert "mobile" not in stored and stored["mobile_encrypted"].startswith("k1:")
    assert "13812345678" not in " ".join(str(v) for v in stored.values()) + kept
