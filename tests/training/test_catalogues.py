"""Catalogues (两目录公开, I1, I3): occupations imported from the shipped CSV, institutions managed by the bureau."""

from __future__ import annotations

from training_service.adapters.catalogue import parse_occupations, shipped_csv
from training_service.adapters.models import Institution, kit_tables

from tests.training.support import CAREGIVER, World, count, credit_code, institution_body, outbox_payloads, outbox_types


async def test_I1_occupation_catalogue_is_public_with_levels(ts):
    r = await ts.client.get(f"/v1/occupations/{CAREGIVER}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "养老护理员"
    assert body["levels"][0] == {"level": 5, "level_label": "初级工", "min_training_days": 5, "subsidised_day_limit": 20}
    assert [lv["level"] for lv in body["levels"]] == [5, 4, 3]


async def test_I1_occupation_search_and_paging(ts):
    r = await ts.client.get("/v1/occupations", params={"q": "烹调"})
    assert sorted(o["code"] for o in r.json()["items"]) == ["4-03-02-01", "4-03-02-03"]
    r = await ts.client.get("/v1/occupations", params={"q": "6-29"})
    assert {o["name"] for o in r.json()["items"]} == {"砌筑工", "钢筋工", "架子工", "电梯安装维修工"}
    total = len({row["code"] for row in parse_occupations(shipped_csv())})
    seen, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = (await ts.client.get("/v1/occupations", params=params)).json()
        seen += [o["code"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == total
    r = await ts.client.get("/v1/occupations/9-99-99-99")
    assert (r.status_code, r.json()["code"]) == (404, "occupation_not_found")


async def test_shipped_occupation_csv_is_well_formed():
    rows = parse_occupations(shipped_csv())
    assert 20 <= len({r["code"] for r in rows}) <= 40
    assert all(r["subsidised_day_limit"] >= r["min_training_days"] for r in rows)


async def test_I1_register_institution_emits_approved_and_is_public(ts):
    w = World(ts)
    inst = await w.institution()
    assert inst["status"] == "approved" and inst["status_label"] == "已备案"
    [event] = await outbox_payloads(ts, "institution.approved.v1")
    assert event["institution_id"] == inst["id"]
    assert event["kinds"] == ["entrepreneurship", "inclusive", "order", "project"]
    r = await ts.client.get(f"/v1/institutions/{inst['id']}")
    assert r.status_code == 200 and r.json()["credit_code"] == credit_code()
    r = await ts.client.get("/v1/institutions", params={"q": "技工"})
    assert [i["id"] for i in r.json()["items"]] == [inst["id"]]
    r = await ts.client.get("/v1/institutions", params={"kind": "caregiver"})
    assert r.json()["items"] == []
    r = await ts.client.get("/v1/institutions", params={"occupation_code": CAREGIVER, "kind": "order"})
    assert [i["id"] for i in r.json()["items"]] == [inst["id"]]


async def test_bad_credit_code_is_422_and_changes_nothing(ts):
    good = credit_code()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = await ts.client.post("/v1/institutions", json=institution_body(credit_code=wrong), headers=World(ts).bureau)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "credit_code_check_character"
    r = await ts.client.post("/v1/institutions", json=institution_body(credit_code="123"), headers=World(ts).bureau)
    assert r.json()["code"] == "credit_code_format"
    assert await count(ts, Institution) == 0
    assert await count(ts, kit_tables.outbox) == 0


async def test_duplicate_credit_code_and_unknown_occupation(ts):
    w = World(ts)
    await w.institution()
    r = await ts.client.post("/v1/institutions", json=institution_body(name="另一家"), headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (409, "institution_exists")
    r = await ts.client.post(
        "/v1/institutions",
        json=institution_body(credit_code=credit_code("12141124MB000002"), occupation_codes=["9-99-99-99"]),
        headers=w.bureau,
    )
    assert (r.status_code, r.json()["code"]) == (422, "occupation_unknown")
    assert await count(ts, Institution) == 1


async def test_only_bureau_manages_institutions(ts):
    w = await World(ts).setup()
    r = await ts.client.post("/v1/institutions", json=institution_body(credit_code=credit_code("12141124MB000009")))
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    r = await ts.client.post("/v1/institutions", json=institution_body(credit_code=credit_code("12141124MB000009")),
                             headers=w.org)
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await ts.client.patch(f"/v1/institutions/{w.institution_id}", json={"name": "改名"}, headers=w.org)
    assert r.status_code == 403
    r = await ts.client.post(f"/v1/institutions/{w.institution_id}/status",
                             json={"status": "suspended", "reason": "自行暂停"}, headers=w.org)
    assert r.status_code == 403
    assert (await ts.client.get(f"/v1/institutions/{w.institution_id}")).json()["status"] == "approved"


async def test_I3_suspend_reinstate_revoke(ts):
    w = await World(ts).setup()
    url = f"/v1/institutions/{w.institution_id}/status"
    r = await ts.client.post(url, json={"status": "suspended", "reason": "虚报培训人数"}, headers=w.bureau)
    assert r.status_code == 200 and r.json()["status_label"] == "已暂停"
    assert (await outbox_payloads(ts, "institution.suspended.v1"))[0] == {
        "institution_id": w.institution_id, "status": "suspended", "reason": "虚报培训人数"}
    r = await ts.client.post(url, json={"status": "suspended", "reason": "再次暂停"}, headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (409, "institution_status_unchanged")
    r = await ts.client.post(url, json={"status": "approved", "reason": "整改完成"}, headers=w.bureau)
    assert r.json()["status"] == "approved"
    r = await ts.client.post(url, json={"status": "revoked", "reason": "撤销资格"}, headers=w.bureau)
    assert r.json()["status"] == "revoked"
    r = await ts.client.post(url, json={"status": "approved", "reason": "恢复"}, headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (409, "institution_revoked")
    assert await outbox_types(ts) == [
        "institution.approved.v1", "institution.suspended.v1", "institution.approved.v1", "institution.suspended.v1"]


async def test_patch_institution_scope_reannounces(ts):
    w = await World(ts).setup()
    r = await ts.client.patch(f"/v1/institutions/{w.institution_id}", json={"kinds": ["caregiver"]}, headers=w.bureau)
    assert r.status_code == 200 and r.json()["kinds"] == ["caregiver"]
    events = await outbox_payloads(ts, "institution.approved.v1")
    assert [e["kinds"] for e in events] == [["entrepreneurship", "inclusive", "order", "project"], ["caregiver"]]
    r = await ts.client.patch(f"/v1/institutions/{w.institution_id}", json={}, headers=w.bureau)
    assert (r.status_code, r.json()["code"]) == (422, "nothing_to_change")


async def test_institution_catalogue_pages_with_a_cursor(ts):
    w = World(ts)
    ids = [(await w.institution(credit_code=credit_code(f"12141124MB00001{i}"), name=f"培训学校{i}"))["id"]
           for i in range(5)]
    first = (await ts.client.get("/v1/institutions", params={"limit": 3})).json()
    second = (await ts.client.get("/v1/institutions", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [i["id"] for i in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None
    r = await ts.client.get("/v1/institutions", params={"cursor": "garbage!"})
    assert (r.status_code, r.json()["code"]) == (400, "cursor_invalid")
