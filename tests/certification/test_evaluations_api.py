from __future__ import annotations

import uuid
from decimal import Decimal

from certification_service.adapters.models import Candidate, Evaluation

from tests.certification.helpers import (
    count,
    key_of,
    known_worker,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    outbox_count,
    outbox_events,
    record,
    resident_id,
    staff,
)


def evaluation_body(**overrides):
    data = {"occupation_code": "4-10-01-05", "level": 5, "certificate_type": "skill_level", "scheduled_on": "2026-12-10"}
    data.update(overrides)
    return data


async def test_I2_schedule_filed_occupation_and_level_emits_event(cs):
    institution_id = await new_institution(cs)
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=org(cs, institution_id))
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["institution_id"] == institution_id
    assert (data["occupation_name"], data["level_label"], data["certificate_type_label"]) == (
        "养老护理员", "初级工", "职业技能等级证书"
    )
    [event] = await outbox_events(cs, "evaluation.scheduled.v1")
    assert event.partition_key == data["id"]
    assert (event.payload.evaluation_id, event.payload.institution_id) == (data["id"], institution_id)
    assert (event.payload.occupation_code, event.payload.level, str(event.payload.scheduled_on)) == (
        "4-10-01-05", 5, "2026-12-10"
    )


async def test_I2_schedule_refused_when_not_filed_for_level_or_occupation_or_type(cs):
    institution_id = await new_institution(cs)
    before = await outbox_count(cs)
    for body in (
        evaluation_body(level=3),  # filed for 5 and 4 only
        evaluation_body(occupation_code="6-31-01-03"),  # catalogued, not filed
        evaluation_body(certificate_type="vocational_qualification"),  # same occupation/level, other type
    ):
        r = await cs.client.post("/v1/evaluations", json=body, headers=org(cs, institution_id))
        assert (r.status_code, r.json()["code"]) == (403, "institution_not_filed"), body
    assert await count(cs, Evaluation) == 0
    assert await outbox_count(cs) == before


async def test_schedule_bad_input_is_422_and_changes_nothing(cs):
    institution_id = await new_institution(cs)
    before = await outbox_count(cs)
    cases = [
        (evaluation_body(level=6), "level_out_of_range"),
        (evaluation_body(level=0), "level_out_of_range"),
        (evaluation_body(level=None), "level_required"),
        (evaluation_body(occupation_code="4-99-99-98"), "occupation_unknown"),
        (evaluation_body(occupation_code="care-worker"), "occupation_code_format"),
        (evaluation_body(scheduled_on="2026-13-01"), "validation_failed"),
    ]
    for body, code in cases:
        r = await cs.client.post("/v1/evaluations", json=body, headers=org(cs, institution_id))
        assert (r.status_code, r.json()["code"]) == (422, code), body
    assert await count(cs, Evaluation) == 0
    assert await outbox_count(cs) == before


async def test_I3_suspended_or_revoked_institution_schedules_nothing(cs):
    institution_id = await new_institution(cs)
    url = f"/v1/evaluation-institutions/{institution_id}/status"
    await cs.client.post(url, json={"status": "suspended", "reason": "整改"}, headers=staff(cs))
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (409, "institution_suspended")
    await cs.client.post(url, json={"status": "revoked", "reason": "撤销"}, headers=staff(cs))
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (409, "institution_revoked")
    assert await count(cs, Evaluation) == 0


async def test_unregistered_organisation_and_other_roles_cannot_schedule(cs):
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=org(cs, str(uuid.uuid4())))
    assert (r.status_code, r.json()["code"]) == (403, "institution_not_registered")
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=org(cs, "not-a-uuid"))
    assert (r.status_code, r.json()["code"]) == (403, "institution_not_registered")
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.post("/v1/evaluations", json=evaluation_body(), headers=cs.headers("training_org", org="t-1"))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert await count(cs, Evaluation) == 0


async def test_candidate_matched_to_known_worker_or_flagged_unknown(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    known_number, unknown_number = resident_id(seq="001"), resident_id(seq="002")
    await known_worker(cs, known_number)
    known = await new_candidate(cs, institution_id, evaluation_id, known_number, "李四")
    unknown = await new_candidate(cs, institution_id, evaluation_id, unknown_number, "王五")
    assert known["unknown_person"] is False
    assert unknown["unknown_person"] is True
    r = await cs.client.get(f"/v1/evaluations/{evaluation_id}/candidates?unknown_person=true", headers=staff(cs))
    assert [c["name"] for c in r.json()["items"]] == ["王五"]
    assert known["id_number_masked"] == known_number[:6] + "********" + known_number[-4:]
    async with cs.sessionmaker() as session:
        row = await session.get(Candidate, uuid.UUID(unknown["id"]))
    assert row.person_key == key_of(cs, unknown_number)
    assert unknown_number not in row.id_number_encrypted
    # The worker registers later: the flag clears (events may arrive in any order).
    await known_worker(cs, unknown_number)
    r = await cs.client.get(f"/v1/evaluations/{evaluation_id}/candidates", headers=org(cs, institution_id))
    assert {c["name"]: c["unknown_person"] for c in r.json()["items"]} == {"李四": False, "王五": False}
    assert unknown_number not in r.text


async def test_candidate_bad_id_and_duplicate_change_nothing(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    url = f"/v1/evaluations/{evaluation_id}/candidates"
    r = await cs.client.post(url, json={"name": "张三", "id_number": number[:-1] + ("0" if number[-1] != "0" else "1")},
                             headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (422, "id_number_check_digit")
    r = await cs.client.post(url, json={"name": "张三", "id_number": "1411242005"}, headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await count(cs, Candidate) == 0
    await new_candidate(cs, institution_id, evaluation_id, number)
    r = await cs.client.post(url, json={"name": "张三", "id_number": number}, headers=org(cs, institution_id))
    assert (r.status_code, r.json()["code"]) == (409, "candidate_already_registered")
    assert await count(cs, Candidate) == 1


async def test_institution_A_cannot_register_record_or_read_for_B(cs):
    a = await new_institution(cs, 1)
    b = await new_institution(cs, 2, name="吕梁市评价中心")
    evaluation_b = await new_evaluation(cs, b)
    candidate_b = await new_candidate(cs, b, evaluation_b, resident_id())
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_b}/candidates",
        json={"name": "赵六", "id_number": resident_id(seq="009")},
        headers=org(cs, a),
    )
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await record(cs, a, evaluation_b, candidate_b["id"])
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await cs.client.get(f"/v1/evaluations/{evaluation_b}", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await cs.client.get(f"/v1/evaluations/{evaluation_b}/candidates", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await cs.client.get("/v1/evaluations", headers=org(cs, a))
    assert r.json()["items"] == []
    r = await cs.client.get(f"/v1/evaluations?institution_id={b}", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    assert await count(cs, Candidate) == 1
    async with cs.sessionmaker() as session:
        row = await session.get(Candidate, uuid.UUID(candidate_b["id"]))
    assert row.result_recorded_at is None
    r = await cs.client.get("/v1/evaluations", headers=staff(cs))
    assert [e["id"] for e in r.json()["items"]] == [evaluation_b]


async def test_record_result_with_exact_scores_emits_event(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    candidate = await new_candidate(cs, institution_id, evaluation_id, number)
    r = await record(cs, institution_id, evaluation_id, candidate["id"], theory="59.99", practical="100")
    assert r.status_code == 200, r.text
    assert (r.json()["theory_score"], r.json()["practical_score"], r.json()["passed"]) == ("59.99", "100.00", False)
    [event] = await outbox_events(cs, "evaluation.result_recorded.v1")
    assert event.partition_key == key_of(cs, number)
    assert (event.payload.theory_score, event.payload.practical_score) == (Decimal("59.99"), Decimal("100.00"))
    assert event.payload.passed is False and event.payload.free_student_evaluation is False
    assert event.payload.institution_id == institution_id
    r = await record(cs, institution_id, evaluation_id, candidate["id"])
    assert (r.status_code, r.json()["code"]) == (409, "result_already_recorded")
    assert len(await outbox_events(cs, "evaluation.result_recorded.v1")) == 1


async def test_pass_needs_every_given_score_at_the_pass_mark(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    results = {}
    for seq, (theory, practical) in enumerate([("60", "60"), (None, "60"), ("60", None), ("59.5", "90")]):
        candidate = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq=f"{seq:03d}"))
        r = await record(cs, institution_id, evaluation_id, candidate["id"], theory, practical)
        results[(theory, practical)] = r.json()["passed"]
    assert results == {("60", "60"): True, (None, "60"): True, ("60", None): True, ("59.5", "90"): False}


async def test_result_bad_scores_are_422_and_change_nothing(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await new_candidate(cs, institution_id, evaluation_id, resident_id())
    url = f"/v1/evaluations/{evaluation_id}/candidates/{candidate['id']}/result"
    before = await outbox_count(cs)
    cases = [
        ({"theory_score": "100.01", "practical_score": "80"}, "score_out_of_range"),
        ({"theory_score": "80", "practical_score": "-1"}, "score_out_of_range"),
        ({"theory_score": "150", "practical_score": "80"}, "score_out_of_range"),
        ({"theory_score": "80.123", "practical_score": "80"}, "score_precision"),
        ({}, "scores_missing"),
        ({"theory_score": "50", "practical_score": "80", "passed": True}, "passed_inconsistent_with_scores"),
        ({"theory_score": "abc", "practical_score": "80"}, "validation_failed"),
    ]
    for body, code in cases:
        r = await cs.client.put(url, json=body, headers=org(cs, institution_id))
        assert (r.status_code, r.json()["code"]) == (422, code), body
    async with cs.sessionmaker() as session:
        row = await session.get(Candidate, uuid.UUID(candidate["id"]))
    assert (row.theory_score, row.practical_score, row.passed, row.result_recorded_at) == (None, None, None, None)
    assert await outbox_count(cs) == before


async def test_unknown_candidate_or_evaluation_is_404(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    r = await record(cs, institution_id, evaluation_id, str(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "candidate_not_found")
    r = await record(cs, institution_id, str(uuid.uuid4()), str(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "evaluation_not_found")


async def test_database_refuses_scores_outside_0_to_100(cs):
    import pytest
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await new_candidate(cs, institution_id, evaluation_id, resident_id())
    async with cs.sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                update(Candidate).where(Candidate.id == uuid.UUID(candidate["id"])).values(theory_score=Decimal("101"))
            )


async def test_issue16_blank_or_control_character_names_are_refused(cs):
    for name in ("   ", "临县\r\n评价中心", "临县\u202e评价中心"):
        r = await cs.client.post("/v1/evaluation-institutions", json={"name": name, "credit_code": "x", "filings": []},
                                 headers=staff(cs))
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["location"]) == (
            422, "validation_failed", "body.name"), repr(name)
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    for name in ("  ", "张\x1b三", "张\u2066三"):
        r = await cs.client.post(f"/v1/evaluations/{evaluation_id}/candidates",
                                 json={"name": name, "id_number": resident_id()}, headers=org(cs, institution_id))
        assert (r.status_code, r.json()["code"], r.json()["errors"][0]["location"]) == (
            422, "validation_failed", "body.name"), repr(name)
    assert await count(cs, Candidate) == 0
