"""S9: an industry department's own training for its key groups (行业部门使用行业专项经费), paid from its own funds and
outside these subsidies (record only). The class is filed, shown and announced like any other; it names the
department, and the subsidy service makes no claim from it (tests/subsidy/test_S9_industry_department.py)."""

from __future__ import annotations

import uuid

from training_service.adapters.models import TrainingClass, kit_tables
from training_service.api.views import DEPARTMENT_FUNDING_LABEL, SUBSIDY_FUNDING_LABEL

from tests.training.support import World, class_body, count, outbox_payloads, resident_id

DEPARTMENT = "县农业农村局"


async def test_S9_a_department_class_is_stored_answered_with_its_label_and_announced(ts):
    w = await World(ts).setup()
    c = await w.open_class(funded_by_department=f"  {DEPARTMENT} ")  # trimmed like the other names
    assert (c["funded_by_department"], c["funding_label"]) == (DEPARTMENT, "行业部门自有经费（S9，不享受本补贴）")
    assert c["funding_label"] == DEPARTMENT_FUNDING_LABEL
    assert c["status"] == "open"  # it runs as any other class
    async with ts.sessionmaker() as session:
        assert (await session.get(TrainingClass, uuid.UUID(c["id"]))).funded_by_department == DEPARTMENT
    for path in (f"/v1/classes/{c['id']}", "/v1/classes"):
        r = await ts.client.get(path, headers=w.bureau)
        assert r.status_code == 200, r.text
        shown = r.json() if path.endswith(c["id"]) else r.json()["items"][0]
        assert (shown["funded_by_department"], shown["funding_label"]) == (DEPARTMENT, DEPARTMENT_FUNDING_LABEL)
    [opened] = await outbox_payloads(ts, "class.opened.v1")
    assert (opened["class_id"], opened["funded_by_department"]) == (c["id"], DEPARTMENT)
    # P10: the filing records the department (no personal data)
    r = await ts.client.get("/v1/audit/entries", params={"entity_id": c["id"]}, headers=ts.headers("auditor"))
    [entry] = r.json()["items"]
    assert (entry["action"], entry["after"]["funded_by_department"]) == ("class.open", DEPARTMENT)
    # the class enrols like any other (the voucher saga, attendance and completion are unchanged)
    number = resident_id(90)
    assert (await w.enrol(c["id"], number, await w.voucher(number))).status_code == 201


async def test_S9_an_ordinary_class_names_no_department_and_the_subsidy_label(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    assert (c["funded_by_department"], c["funding_label"]) == (None, "职业技能培训补贴（凭电子培训券兑现）")
    assert c["funding_label"] == SUBSIDY_FUNDING_LABEL
    [opened] = await outbox_payloads(ts, "class.opened.v1")
    assert opened["funded_by_department"] is None


async def test_S9_a_blank_hidden_or_too_long_department_is_refused_and_changes_nothing(ts):
    w = await World(ts).setup()
    outbox_before = await count(ts, kit_tables.outbox)
    for bad in ("", "   ", "县", "县农业\t农村局", "县农业\u200b农村局", "县农业农村局\u202e", "局" * 101, 7):
        r = await ts.client.post("/v1/classes", json=class_body(funded_by_department=bad), headers=w.org)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "validation_failed"
        assert any("funded_by_department" in error["location"] for error in r.json()["errors"]), r.json()
    assert await count(ts, TrainingClass) == 0
    assert await count(ts, kit_tables.outbox) == outbox_before
    r = await ts.client.get("/v1/audit/entries", params={"action": "class.open"}, headers=ts.headers("auditor"))
    assert r.json()["items"] == []
    c = await w.open_class(funded_by_department="局" * 100)  # 100 characters: the limit
    assert c["funded_by_department"] == "局" * 100


async def test_S9_the_public_catalogue_tells_a_worker_which_classes_earn_no_subsidy_on_the_voucher(ts):
    w = await World(ts).setup()
    department = await w.open_class(funded_by_department=DEPARTMENT)
    ordinary = await w.open_class()
    r = await ts.client.get("/v1/open-classes")  # public: no token
    assert r.status_code == 200, r.text
    cards = {item["id"]: (item["funded_by_department"], item["funding_label"]) for item in r.json()["items"]}
    assert cards == {department["id"]: (DEPARTMENT, DEPARTMENT_FUNDING_LABEL),
                     ordinary["id"]: (None, SUBSIDY_FUNDING_LABEL)}
    r = await ts.client.get(f"/v1/open-classes/{department['id']}")
    assert (r.status_code, r.json()["funded_by_department"], r.json()["funding_label"]) == (
        200, DEPARTMENT, DEPARTMENT_FUNDING_LABEL)
