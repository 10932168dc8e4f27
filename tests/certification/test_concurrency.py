from __future__ import annotations

import asyncio

from certification_service.adapters.models import Certificate

from tests.certification.helpers import (
    count,
    issue,
    new_evaluation,
    new_institution,
    outbox_events,
    passed_candidate,
    resident_id,
)


async def test_E5_concurrent_issues_for_same_person_give_one_certificate(cs):
    institution_id = await new_institution(cs)
    number = resident_id()
    first = await passed_candidate(cs, institution_id, await new_evaluation(cs, institution_id), number)
    second = await passed_candidate(cs, institution_id, await new_evaluation(cs, institution_id), number)
    responses = await asyncio.gather(issue(cs, institution_id, first["id"]), issue(cs, institution_id, second["id"]))
    assert sorted(r.status_code for r in responses) == [201, 409]
    [refused] = [r for r in responses if r.status_code == 409]
    assert refused.json()["code"] == "certificate_duplicate"
    assert await count(cs, Certificate) == 1
    assert len(await outbox_events(cs, "certificate.issued.v1")) == 1


async def test_concurrent_issues_for_different_people_get_distinct_numbers(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidates = [
        await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq=f"{i:03d}")) for i in range(4)
    ]
    responses = await asyncio.gather(*(issue(cs, institution_id, c["id"]) for c in candidates))
    assert [r.status_code for r in responses] == [201] * 4
    sequences = sorted(r.json()["certificate_no"][10:16] for r in responses)
    assert sequences == ["000001", "000002", "000003", "000004"]
