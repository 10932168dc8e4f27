"""S5: enterprises registered by the bureau (credit code checked with python-stdnum), named by their on-the-job
classes, announced to the subsidy service (`enterprise.registered.v1`, the S5 payee)."""

from __future__ import annotations

import uuid

from tests.training.support import World, credit_code, outbox_payloads

ENTERPRISE = {"name": "山西临县城庄建筑工程有限公司", "address": "临县城庄镇建设路8号", "township": "城庄镇",
              "contact_name": "刘经理", "contact_phone": "13800000002"}


async def test_S5_enterprise_registered_with_a_checked_credit_code(ts):
    w = await World(ts).setup(kinds=["inclusive", "enterprise"])
    code = credit_code("91141124MA000001")
    r = await ts.client.post("/v1/enterprises", json={**ENTERPRISE, "credit_code": code}, headers=w.bureau)
    assert r.status_code == 201, r.text
    enterprise = r.json()
    assert (enterprise["credit_code"], enterprise["contact_name"], enterprise["created_by"]) == (code, "刘经理", "staff-1")
    [event] = await outbox_payloads(ts, "enterprise.registered.v1")
    assert event == {"enterprise_id": enterprise["id"], "name": ENTERPRISE["name"], "credit_code": code,
                     "township": "城庄镇", "registered_by": "staff-1"}
    again = await ts.client.post("/v1/enterprises", json={**ENTERPRISE, "credit_code": code}, headers=w.bureau)
    assert (again.status_code, again.json()["code"]) == (409, "enterprise_exists")
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    bad = await ts.client.post("/v1/enterprises", json={**ENTERPRISE, "credit_code": wrong}, headers=w.bureau)
    assert (bad.status_code, bad.json()["code"]) == (422, "credit_code_check_character")
    org = await ts.client.post("/v1/enterprises", json={**ENTERPRISE, "credit_code": code}, headers=w.org)
    assert (org.status_code, org.json()["code"]) == (403, "role_forbidden")
    seen = (await ts.client.get(f"/v1/enterprises/{enterprise['id']}", headers=w.org)).json()
    assert (seen["contact_name"], seen["contact_phone"]) == ("刘*理", "138****0002")  # the contact: staff only
    assert len(await outbox_payloads(ts, "enterprise.registered.v1")) == 1


async def test_S5_on_the_job_class_names_its_enterprise(ts):
    w = await World(ts).setup(kinds=["inclusive", "enterprise"])
    r = await ts.client.post("/v1/enterprises", json={**ENTERPRISE, "credit_code": credit_code("91141124MA000002")},
                             headers=w.bureau)
    enterprise_id = r.json()["id"]
    missing = await ts.client.post("/v1/classes", json=_class(), headers=w.org)
    assert (missing.status_code, missing.json()["code"]) == (422, "validation_failed")
    unknown = await ts.client.post("/v1/classes", json=_class(enterprise_id=str(uuid.uuid4())), headers=w.org)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "enterprise_unknown")
    other_kind = await ts.client.post("/v1/classes", json=_class(kind="inclusive", enterprise_id=enterprise_id),
                                      headers=w.org)
    assert (other_kind.status_code, other_kind.json()["code"]) == (422, "validation_failed")
    assert await outbox_payloads(ts, "class.opened.v1") == []
    c = await w.open_class(**_class(enterprise_id=enterprise_id))
    assert c["enterprise_id"] == enterprise_id
    [opened] = await outbox_payloads(ts, "class.opened.v1")
    assert (opened["kind"], opened["enterprise_id"]) == ("enterprise", enterprise_id)


def _class(**overrides) -> dict:
    from tests.training.support import class_body

    return class_body(**{"name": "建筑企业在岗职工砌筑工培训班", "kind": "enterprise", **overrides})
