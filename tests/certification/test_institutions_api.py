from __future__ import annotations

from certification_service.adapters.models import EvaluationInstitution, Filing

from tests.certification.helpers import (
    FILINGS,
    count,
    credit_code,
    new_institution,
    org,
    outbox_count,
    outbox_events,
    staff,
    with_wrong_last_character,
)


def body(**overrides):
    data = {"name": "临县职业技能评价中心", "credit_code": credit_code(1), "filings": FILINGS}
    data.update(overrides)
    return data


async def nothing_changed(cs) -> None:
    assert await count(cs, EvaluationInstitution) == 0
    assert await count(cs, Filing) == 0
    assert await outbox_count(cs) == 0


async def test_I2_register_institution_with_filings_emits_filed_event(cs):
    r = await cs.client.post("/v1/evaluation-institutions", json=body(), headers=staff(cs))
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["status"] == "approved" and data["status_label"] == "正常"
    assert data["credit_code"] == credit_code(1)
    assert [(f["occupation_code"], f["level"], f["certificate_type"]) for f in data["filings"]] == [
        ("4-03-02-01", None, "special_ability"),
        ("4-10-01-05", 4, "skill_level"),
        ("4-10-01-05", 5, "skill_level"),
    ]
    by_level = {f["level"]: f for f in data["filings"]}
    assert by_level[5]["level_label"] == "初级工" and by_level[4]["level_label"] == "中级工"
    assert by_level[5]["occupation_name"] == "养老护理员"
    assert by_level[None]["certificate_type_label"] == "专项职业能力证书"
    [event] = await outbox_events(cs)
    assert event.type == "evaluation_institution.filed.v1"
    assert event.partition_key == data["id"]
    assert event.payload.institution_id == data["id"] and event.payload.status == "approved"
    assert len(event.payload.filings) == 3


async def test_credit_code_with_wrong_check_character_is_422_and_changes_nothing(cs):
    r = await cs.client.post(
        "/v1/evaluation-institutions", json=body(credit_code=with_wrong_last_character(credit_code(1))), headers=staff(cs)
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "credit_code_check_character"
    await nothing_changed(cs)


async def test_credit_code_of_wrong_length_or_alphabet_is_422(cs):
    for bad in ("9114112400000", "9114112AMA0000001X", "91141124MA000000IO"):
        r = await cs.client.post("/v1/evaluation-institutions", json=body(credit_code=bad), headers=staff(cs))
        assert (r.status_code, r.json()["code"]) == (422, "credit_code_format"), bad
    await nothing_changed(cs)


async def test_duplicate_credit_code_is_409(cs):
    await new_institution(cs)
    r = await cs.client.post("/v1/evaluation-institutions", json=body(name="另一个名字"), headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (409, "institution_credit_code_taken")
    assert await count(cs, EvaluationInstitution) == 1


async def test_filing_level_outside_1_to_5_is_422_and_changes_nothing(cs):
    for level in (0, 6, -1):
        filings = [{"occupation_code": "4-10-01-05", "level": level, "certificate_type": "skill_level"}]
        r = await cs.client.post("/v1/evaluation-institutions", json=body(filings=filings), headers=staff(cs))
        assert (r.status_code, r.json()["code"]) == (422, "level_out_of_range"), level
    await nothing_changed(cs)


async def test_S8_levels_only_for_skill_level_and_qualification(cs):
    missing = [{"occupation_code": "4-10-01-05", "level": None, "certificate_type": "vocational_qualification"}]
    r = await cs.client.post("/v1/evaluation-institutions", json=body(filings=missing), headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (422, "level_required")
    for kind in ("special_ability", "special_operation", "special_equipment", "entrepreneurship_training"):
        levelled = [{"occupation_code": "6-31-01-03", "level": 5, "certificate_type": kind}]
        r = await cs.client.post("/v1/evaluation-institutions", json=body(filings=levelled), headers=staff(cs))
        assert (r.status_code, r.json()["code"]) == (422, "level_not_applicable"), kind
    r = await cs.client.post(
        "/v1/evaluation-institutions",
        json=body(filings=[{"occupation_code": "6-31-01-03", "level": 5, "certificate_type": "astronaut"}]),
        headers=staff(cs),
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    await nothing_changed(cs)


async def test_unknown_and_malformed_occupation_codes_are_422(cs):
    unknown = [{"occupation_code": "4-99-99-99", "level": 5, "certificate_type": "skill_level"}]
    r = await cs.client.post("/v1/evaluation-institutions", json=body(filings=unknown), headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (422, "occupation_unknown")
    malformed = [{"occupation_code": "41001-05", "level": 5, "certificate_type": "skill_level"}]
    r = await cs.client.post("/v1/evaluation-institutions", json=body(filings=malformed), headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (422, "occupation_code_format")
    await nothing_changed(cs)


async def test_only_bureau_and_admin_register_and_change_institutions(cs):
    r = await cs.client.post("/v1/evaluation-institutions", json=body())
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    for role, extra in (("evaluation_org", {"org": "x"}), ("training_org", {"org": "x"}), ("worker", {}), ("auditor", {})):
        r = await cs.client.post("/v1/evaluation-institutions", json=body(), headers=cs.headers(role, **extra))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden"), role
    await nothing_changed(cs)
    institution_id = await new_institution(cs)
    r = await cs.client.put(
        f"/v1/evaluation-institutions/{institution_id}/filings", json={"filings": []}, headers=org(cs, institution_id)
    )
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.post(
        f"/v1/evaluation-institutions/{institution_id}/status",
        json={"status": "approved"},
        headers=org(cs, institution_id),
    )
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    admin = await cs.client.post(
        "/v1/evaluation-institutions", json=body(credit_code=credit_code(2)), headers=cs.headers("admin")
    )
    assert admin.status_code == 201


async def test_I2_replace_filings_emits_snapshot(cs):
    institution_id = await new_institution(cs)
    new = [{"occupation_code": "6-31-01-03", "level": 3, "certificate_type": "vocational_qualification"}]
    r = await cs.client.put(
        f"/v1/evaluation-institutions/{institution_id}/filings", json={"filings": new}, headers=staff(cs)
    )
    assert r.status_code == 200, r.text
    assert [(f["occupation_code"], f["level"]) for f in r.json()["filings"]] == [("6-31-01-03", 3)]
    assert await count(cs, Filing) == 1
    events = await outbox_events(cs, "evaluation_institution.filed.v1")
    assert len(events) == 2
    assert [f.occupation_code for f in events[-1].payload.filings] == ["6-31-01-03"]
    bad = [{"occupation_code": "6-31-01-03", "level": 9, "certificate_type": "vocational_qualification"}]
    r = await cs.client.put(
        f"/v1/evaluation-institutions/{institution_id}/filings", json={"filings": bad}, headers=staff(cs)
    )
    assert (r.status_code, r.json()["code"]) == (422, "level_out_of_range")
    assert await count(cs, Filing) == 1
    assert len(await outbox_events(cs)) == 2


async def test_I3_status_changes_need_reason_and_revocation_is_final(cs):
    institution_id = await new_institution(cs)
    url = f"/v1/evaluation-institutions/{institution_id}/status"
    r = await cs.client.post(url, json={"status": "suspended"}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (422, "status_reason_required")
    r = await cs.client.post(url, json={"status": "suspended", "reason": "考评过程不规范"}, headers=staff(cs))
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["status_reason"]) == ("suspended", "考评过程不规范")
    r = await cs.client.post(url, json={"status": "suspended", "reason": "again"}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (409, "institution_status_unchanged")
    r = await cs.client.post(url, json={"status": "approved"}, headers=staff(cs))
    assert r.status_code == 200 and r.json()["status_reason"] is None
    r = await cs.client.post(url, json={"status": "revoked", "reason": "资质被省厅撤销"}, headers=staff(cs))
    assert r.status_code == 200
    r = await cs.client.post(url, json={"status": "approved"}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (409, "institution_revoked_final")
    statuses = [e.payload.status for e in await outbox_events(cs, "evaluation_institution.filed.v1")]
    assert statuses == ["approved", "suspended", "approved", "revoked"]


async def test_evaluation_org_reads_only_its_own_institution(cs):
    a = await new_institution(cs, 1)
    b = await new_institution(cs, 2, name="吕梁市评价中心")
    r = await cs.client.get(f"/v1/evaluation-institutions/{a}", headers=org(cs, a))
    assert r.status_code == 200 and r.json()["id"] == a
    r = await cs.client.get(f"/v1/evaluation-institutions/{b}", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await cs.client.get("/v1/evaluation-institutions", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.get("/v1/evaluation-institutions?limit=1", headers=cs.headers("auditor"))
    page2 = await cs.client.get(
        f"/v1/evaluation-institutions?limit=1&cursor={r.json()['next_cursor']}", headers=cs.headers("auditor")
    )
    assert {r.json()["items"][0]["id"], page2.json()["items"][0]["id"]} == {a, b}
