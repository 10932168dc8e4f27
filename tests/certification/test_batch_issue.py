"""The batch certificate issue (POST /v1/evaluations/{id}/certificates): set-based, and exact under a race."""

from __future__ import annotations

import pytest

from certification_service.adapters.models import Certificate
from certification_service.handlers import certificates as certificates_handler
from skillkit.testing import plugin

from tests.certification.helpers import (
    count,
    issue,
    new_evaluation,
    new_institution,
    org,
    outbox_events,
    passed_candidate,
    resident_id,
)


async def test_batch_numbers_follow_the_candidates_order_and_emit_one_event_each(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    candidates = [
        await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq=f"{i:03d}"), name)
        for i, name in enumerate(["张三", "李四", "王五"])
    ]
    r = await cs.client.post(f"/v1/evaluations/{evaluation_id}/certificates", headers=org(cs, institution_id))
    assert r.status_code == 200, r.text
    data = r.json()
    assert [(c["candidate_id"], c["holder_name"], c["certificate_no"][10:16]) for c in data["certificates"]] == [
        (candidates[0]["id"], "张三", "000001"),
        (candidates[1]["id"], "李四", "000002"),
        (candidates[2]["id"], "王五", "000003"),
    ]
    events = await outbox_events(cs, "certificate.issued.v1")
    assert [(e.payload.certificate_no, e.partition_key) for e in events] == [
        (c["certificate_no"], e.payload.person_key) for c, e in zip(data["certificates"], events)
    ]
    assert [e.payload.certificate_id for e in events] == [c["id"] for c in data["certificates"]]


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="needs two concurrent writers (SQLite serialises them)")
async def test_E5_a_holder_certified_concurrently_is_refused_alone_and_numbers_have_no_gap(cs, monkeypatch):
    institution_id = await new_institution(cs)
    elsewhere = await new_evaluation(cs, institution_id)
    evaluation_id = await new_evaluation(cs, institution_id)
    holder = resident_id(seq="001")
    rival = await passed_candidate(cs, institution_id, elsewhere, holder, "张三")
    first = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="002"), "李四")
    raced = await passed_candidate(cs, institution_id, evaluation_id, holder, "张三")
    last = await passed_candidate(cs, institution_id, evaluation_id, resident_id(seq="003"), "王五")
    allocate = certificates_handler._allocate
    rival_response = []

    async def rival_issues_first(session, year, number_count):
        # After the batch read the holder's certificates (none), another request certifies the holder (E5).
        if number_count > 1 and not rival_response:
            rival_response.append(await issue(cs, institution_id, rival["id"]))
        return await allocate(session, year, number_count)

    monkeypatch.setattr(certificates_handler, "_allocate", rival_issues_first)
    r = await cs.client.post(f"/v1/evaluations/{evaluation_id}/certificates", headers=org(cs, institution_id))
    assert rival_response[0].status_code == 201 and rival_response[0].json()["certificate_no"][10:16] == "000001"
    assert r.status_code == 200, r.text
    data = r.json()
    assert [(c["candidate_id"], c["certificate_no"][10:16]) for c in data["certificates"]] == [
        (first["id"], "000002"),
        (last["id"], "000003"),  # the numbers the undone batch had reserved were given back
    ]
    assert [(x["candidate_id"], x["name"], x["code"]) for x in data["refusals"]] == [
        (raced["id"], "张三", "certificate_duplicate")
    ]
    assert await count(cs, Certificate) == 3
    assert len(await outbox_events(cs, "certificate.issued.v1")) == 3
