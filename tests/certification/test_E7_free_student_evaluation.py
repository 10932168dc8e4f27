from __future__ import annotations

from certification_service.adapters.models import Candidate
from skillkit.county import local_date
from skillkit.db import utcnow

from tests.certification.helpers import (
    count,
    issue,
    known_worker,
    new_evaluation,
    new_institution,
    org,
    outbox_events,
    record,
    resident_id,
)

YEAR = local_date(utcnow()).year


async def register(cs, institution_id, evaluation_id, number, **extra):
    return await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates",
        json={"name": "刘小明", "id_number": number, **extra},
        headers=org(cs, institution_id),
    )


async def test_E7_free_evaluation_recorded_on_result_and_certificate(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    await known_worker(cs, number, categories=["vocational_student"])
    r = await register(cs, institution_id, evaluation_id, number, free_student_evaluation=True, graduation_year=YEAR)
    assert r.status_code == 201, r.text
    candidate = r.json()
    assert (candidate["free_student_evaluation"], candidate["graduation_year"]) == (True, YEAR)
    await record(cs, institution_id, evaluation_id, candidate["id"])
    [result] = await outbox_events(cs, "evaluation.result_recorded.v1")
    assert (result.payload.free_student_evaluation, result.payload.graduation_year) == (True, YEAR)
    r = await issue(cs, institution_id, candidate["id"])
    assert (r.json()["free_student_evaluation"], r.json()["graduation_year"]) == (True, YEAR)
    [issued] = await outbox_events(cs, "certificate.issued.v1")
    assert (issued.payload.free_student_evaluation, issued.payload.graduation_year) == (True, YEAR)


async def test_E7_second_free_evaluation_in_same_graduation_year_is_refused(cs):
    institution_id = await new_institution(cs)
    number = resident_id()
    await known_worker(cs, number, categories=["vocational_student"])
    first = await new_evaluation(cs, institution_id, level=5)
    second = await new_evaluation(cs, institution_id, level=4)
    r = await register(cs, institution_id, first, number, free_student_evaluation=True, graduation_year=YEAR)
    assert r.status_code == 201
    r = await register(cs, institution_id, second, number, free_student_evaluation=True, graduation_year=YEAR)
    assert (r.status_code, r.json()["code"]) == (409, "free_evaluation_already_used")
    assert await count(cs, Candidate) == 1
    # A paid evaluation in the same year, or a free one for another graduation year, is fine.
    r = await register(cs, institution_id, second, number)
    assert r.status_code == 201 and r.json()["free_student_evaluation"] is False
    third = await new_evaluation(cs, institution_id, level=5)
    r = await register(cs, institution_id, third, number, free_student_evaluation=True, graduation_year=YEAR + 1)
    assert r.status_code == 201


async def test_E7_free_evaluation_only_for_vocational_students_and_skill_levels(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    student, adult, stranger = resident_id(seq="001"), resident_id(seq="002"), resident_id(seq="003")
    await known_worker(cs, student, categories=["vocational_student"])
    await known_worker(cs, adult, categories=["rural_migrant"])
    r = await register(cs, institution_id, evaluation_id, adult, free_student_evaluation=True, graduation_year=YEAR)
    assert (r.status_code, r.json()["code"]) == (422, "free_evaluation_not_vocational_student")
    r = await register(cs, institution_id, evaluation_id, stranger, free_student_evaluation=True, graduation_year=YEAR)
    assert (r.status_code, r.json()["code"]) == (422, "free_evaluation_not_vocational_student")
    r = await register(cs, institution_id, evaluation_id, student, free_student_evaluation=True)
    assert (r.status_code, r.json()["code"]) == (422, "graduation_year_required")
    r = await register(cs, institution_id, evaluation_id, student, free_student_evaluation=True, graduation_year=1999)
    assert (r.status_code, r.json()["code"]) == (422, "graduation_year_out_of_range")
    special = await new_evaluation(cs, institution_id, "4-03-02-01", None, "special_ability")
    r = await register(cs, institution_id, special, student, free_student_evaluation=True, graduation_year=YEAR)
    assert (r.status_code, r.json()["code"]) == (422, "free_evaluation_not_skill_level")
    assert await count(cs, Candidate) == 0
