from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from stdnum.iso7064 import mod_37_36

from certification_service.adapters.models import Certificate
from certification_service.domain.certificates import certificate_number, display_number, is_valid_number
from skillkit.county import local_date
from skillkit.db import utcnow

from tests.certification.helpers import (
    another_certificate_like,
    count,
    issue,
    key_of,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    outbox_count,
    outbox_events,
    passed_candidate,
    record,
    resident_id,
    staff,
)


def test_certificate_number_format_and_check_character():
    number = certificate_number(2026, 1)
    assert number[:16] == "1411242026000001"
    assert mod_37_36.is_valid(number)
    assert display_number(number) == f"141124-2026-000001-{number[-1]}"
    assert is_valid_number(display_number(number)) and is_valid_number(number.lower())
    typo = number[:10] + ("1" if number[10] != "1" else "2") + number[11:]
    assert not is_valid_number(typo)
    with pytest.raises(ValueError):
        certificate_number(2026, 1_000_000)


@given(
    year=st.integers(2000, 2099),
    sequence=st.integers(1, 999_999),
    position=st.integers(0, 16),
    replacement=st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
)
def test_any_single_character_typo_in_a_certificate_number_is_detected(year, sequence, position, replacement):
    number = certificate_number(year, sequence)
    assert is_valid_number(number)
    typo = number[:position] + replacement + number[position + 1:]
    if typo != number:
        assert not is_valid_number(typo)


async def test_issue_certificate_for_passed_candidate_emits_event(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    candidate = await passed_candidate(cs, institution_id, evaluation_id, number, "张三丰")
    r = await issue(cs, institution_id, candidate["id"])
    assert r.status_code == 201, r.text
    cert = r.json()
    year = local_date(utcnow()).year
    assert re.fullmatch(rf"141124{year}000001[0-9A-Z]", cert["certificate_no"])
    assert cert["display_no"] == display_number(cert["certificate_no"])
    assert (cert["certificate_type"], cert["occupation_code"], cert["level"], cert["level_label"]) == (
        "skill_level", "4-10-01-05", 5, "初级工"
    )
    assert cert["holder_name"] == "张三丰" and cert["status"] == "valid"
    assert cert["issued_on"] == str(local_date(utcnow()))
    assert cert["institution_id"] == institution_id
    [event] = await outbox_events(cs, "certificate.issued.v1")
    assert event.partition_key == key_of(cs, number)
    p = event.payload
    assert (p.certificate_id, p.certificate_no, p.person_key) == (cert["id"], cert["certificate_no"], key_of(cs, number))
    assert (p.certificate_type, p.occupation_code, p.level, p.institution_id, p.evaluation_id) == (
        "skill_level", "4-10-01-05", 5, institution_id, evaluation_id
    )
    assert p.free_student_evaluation is False and p.graduation_year is None
    second = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="777"), "李四")
    r = await issue(cs, institution_id, second["id"])
    assert r.json()["certificate_no"][10:16] == "000002"


async def test_S8_special_ability_certificate_has_no_level(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id, "4-03-02-01", None, "special_ability")
    candidate = await passed_candidate(cs, institution_id, evaluation_id, resident_id())
    r = await issue(cs, institution_id, candidate["id"])
    assert r.status_code == 201
    assert (r.json()["certificate_type_label"], r.json()["level"], r.json()["level_label"]) == (
        "专项职业能力证书", None, None
    )
    assert r.json()["occupation_name"] == "中式烹调师"


async def test_failed_or_unrecorded_candidate_gets_no_certificate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    pending = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq="001"))
    r = await issue(cs, institution_id, pending["id"])
    assert (r.status_code, r.json()["code"]) == (409, "result_not_recorded")
    failed = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq="002"))
    await record(cs, institution_id, evaluation_id, failed["id"], "40", "70")
    r = await issue(cs, institution_id, failed["id"])
    assert (r.status_code, r.json()["code"]) == (409, "candidate_not_passed")
    r = await issue(cs, institution_id, str(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "candidate_not_found")
    assert await count(cs, Certificate) == 0
    assert await outbox_events(cs, "certificate.issued.v1") == []


async def test_E5_same_person_occupation_and_level_certified_once(cs):
    institution_id = await new_institution(cs)
    number = resident_id()
    first_eval = await new_evaluation(cs, institution_id)
    first = await passed_candidate(cs, institution_id, first_eval, number)
    assert (await issue(cs, institution_id, first["id"])).status_code == 201
    r = await issue(cs, institution_id, first["id"])
    assert (r.status_code, r.json()["code"]) == (409, "certificate_duplicate")
    second_eval = await new_evaluation(cs, institution_id)
    second = await passed_candidate(cs, institution_id, second_eval, number)
    before = await outbox_count(cs)
    r = await issue(cs, institution_id, second["id"])
    assert (r.status_code, r.json()["code"]) == (409, "certificate_duplicate")
    assert await count(cs, Certificate) == 1
    assert await outbox_count(cs) == before
    # Another level of the same occupation is a new certificate.
    higher_eval = await new_evaluation(cs, institution_id, level=4)
    higher = await passed_candidate(cs, institution_id, higher_eval, number)
    r = await issue(cs, institution_id, higher["id"])
    assert r.status_code == 201 and r.json()["level_label"] == "中级工"


async def test_E5_database_refuses_a_second_active_certificate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, resident_id())
    cert = (await issue(cs, institution_id, candidate["id"])).json()
    second = await passed_candidate(cs, institution_id, await new_evaluation(cs, institution_id), resident_id())
    async with cs.sessionmaker() as session:
        original = await session.get(Certificate, uuid.UUID(cert["id"]))
        # another result of the same person: the one-certificate-per-result index does not object, E5 does
        session.add(another_certificate_like(original, candidate_id=uuid.UUID(second["id"])))
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_E5_refusal_does_not_reveal_another_institutions_certificate(cs):
    """Found by an audit: the refusal named the certificate number, so an institution could learn, for any ID number
    it registered, who holds which certificate issued elsewhere."""
    number = resident_id()
    first_institution = await new_institution(cs)
    held = await issue(cs, first_institution, (await passed_candidate(
        cs, first_institution, await new_evaluation(cs, first_institution), number))["id"])
    assert held.status_code == 201
    other = await new_institution(cs, seq=2, name="临县第二评价中心")
    evaluation = await new_evaluation(cs, other)
    r = await issue(cs, other, (await passed_candidate(cs, other, evaluation, number))["id"])
    assert (r.status_code, r.json()["code"]) == (409, "certificate_duplicate")
    assert r.json()["detail"] == "this person already holds a certificate for this occupation and level"
    batch = await cs.client.post(f"/v1/evaluations/{evaluation}/certificates", headers=org(cs, other))
    assert held.json()["certificate_no"] not in batch.text


async def test_I2_institution_no_longer_filed_cannot_certify(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, resident_id())
    r = await cs.client.put(
        f"/v1/evaluation-institutions/{institution_id}/filings",
        json={"filings": [{"occupation_code": "4-10-01-05", "level": 4, "certificate_type": "skill_level"}]},
        headers=staff(cs),
    )
    assert r.status_code == 200
    r = await issue(cs, institution_id, candidate["id"])
    assert (r.status_code, r.json()["code"]) == (403, "institution_not_filed")
    assert await count(cs, Certificate) == 0


async def test_I3_suspended_institution_issues_nothing(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, resident_id())
    other = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq="555"))
    await cs.client.post(
        f"/v1/evaluation-institutions/{institution_id}/status",
        json={"status": "suspended", "reason": "停业整顿"},
        headers=staff(cs),
    )
    r = await issue(cs, institution_id, candidate["id"])
    assert (r.status_code, r.json()["code"]) == (409, "institution_suspended")
    r = await record(cs, institution_id, evaluation_id, other["id"])
    assert (r.status_code, r.json()["code"]) == (409, "institution_suspended")
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates",
        json={"name": "赵六", "id_number": resident_id(seq="556")},
        headers=org(cs, institution_id),
    )
    assert (r.status_code, r.json()["code"]) == (409, "institution_suspended")
    assert await count(cs, Certificate) == 0


async def test_institution_A_cannot_issue_for_B(cs):
    a = await new_institution(cs, 1)
    b = await new_institution(cs, 2, name="吕梁市评价中心")
    evaluation_b = await new_evaluation(cs, b)
    candidate_b = await passed_candidate(cs, b, evaluation_b, resident_id())
    r = await issue(cs, a, candidate_b["id"])
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    assert await count(cs, Certificate) == 0
    r = await issue(cs, b, candidate_b["id"])
    assert r.status_code == 201
    cert_id = r.json()["id"]
    r = await cs.client.get(f"/v1/certificates/{cert_id}", headers=org(cs, a))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    assert (await cs.client.get("/v1/certificates", headers=org(cs, a))).json()["items"] == []
    assert [c["id"] for c in (await cs.client.get("/v1/certificates", headers=org(cs, b))).json()["items"]] == [cert_id]
    r = await cs.client.post("/v1/certificates", json={"candidate_id": candidate_b["id"]}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")


async def test_idempotency_key_replays_the_issued_certificate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, resident_id())
    headers = {**org(cs, institution_id), "Idempotency-Key": "issue-1"}
    a = await cs.client.post("/v1/certificates", json={"candidate_id": candidate["id"]}, headers=headers)
    b = await cs.client.post("/v1/certificates", json={"candidate_id": candidate["id"]}, headers=headers)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert b.headers["Idempotent-Replayed"] == "true"
    assert len(await outbox_events(cs, "certificate.issued.v1")) == 1


async def test_batch_issue_for_an_evaluation_reports_refused_candidates(cs):
    institution_id = await new_institution(cs)
    earlier = await new_evaluation(cs, institution_id)
    evaluation_id = await new_evaluation(cs, institution_id)
    holder = resident_id(seq="001")
    # already certified for this occupation and level through an earlier evaluation (E5)
    first = await passed_candidate(cs, institution_id, earlier, holder)
    assert (await issue(cs, institution_id, first["id"])).status_code == 201
    a = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="002"), "李四")
    b = await passed_candidate(cs, institution_id, evaluation_id, holder, "张三丰")
    failed = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq="003"), "王五")
    await record(cs, institution_id, evaluation_id, failed["id"], "10", "20")
    c = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="004"), "赵六")
    url = f"/v1/evaluations/{evaluation_id}/certificates"
    r = await cs.client.post(url, headers=org(cs, institution_id))
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["issued"], data["refused"]) == (2, 1)
    assert sorted(x["candidate_id"] for x in data["certificates"]) == sorted([a["id"], c["id"]])
    assert [(x["candidate_id"], x["code"]) for x in data["refusals"]] == [(b["id"], "certificate_duplicate")]
    assert await count(cs, Certificate) == 3
    assert len(await outbox_events(cs, "certificate.issued.v1")) == 3
    numbers = sorted(x["certificate_no"][10:16] for x in data["certificates"])
    assert numbers == ["000002", "000003"]
    # a second run issues nothing new and refuses the same holder again
    again = (await cs.client.post(url, headers=org(cs, institution_id))).json()
    assert (again["issued"], again["refused"]) == (0, 1)
    other = await new_institution(cs, 2, name="吕梁市评价中心")
    r = await cs.client.post(url, headers=org(cs, other))
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
