"""Concurrent requests on one record: each race ends in exactly one outcome (E5, P3, I2, I3).

The races that need two writers in the database at once (marked `needs_concurrent_writers`) run on PostgreSQL only:
SQLite serialises writers (every write transaction starts with BEGIN IMMEDIATE and takes the database's one write
lock), so on SQLite the second request starts after the first has committed and the race these tests set up cannot
happen — they would pass without testing anything. CI runs them (SKILLS_TEST_DATABASE=postgres); the tests without
the mark run on both backends.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from certification_service.adapters.models import Candidate, Certificate, Filing
from skillkit.testing import plugin

from tests.certification.helpers import (
    certified,
    count,
    issue,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    outbox_events,
    passed_candidate,
    record,
    resident_id,
    staff,
)

needs_concurrent_writers = pytest.mark.skipif(
    plugin.test_backend() != "postgres", reason="needs two concurrent writers (SQLite serialises them)"
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


async def stored_result(cs, candidate_id: str) -> bool | None:
    async with cs.sessionmaker() as session:
        return (await session.get(Candidate, uuid.UUID(candidate_id))).passed


@needs_concurrent_writers
async def test_P3_concurrent_results_for_one_candidate_record_one(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    for i in range(3):
        candidate = await new_candidate(cs, institution_id, evaluation_id, resident_id(seq=f"{i:03d}"))
        failing, passing = await asyncio.gather(
            record(cs, institution_id, evaluation_id, candidate["id"], "30", "40"),
            record(cs, institution_id, evaluation_id, candidate["id"], "90", "90"),
        )
        assert sorted(r.status_code for r in (failing, passing)) == [200, 409]
        [won] = [r for r in (failing, passing) if r.status_code == 200]
        [lost] = [r for r in (failing, passing) if r.status_code == 409]
        assert lost.json()["code"] == "result_already_recorded"
        assert await stored_result(cs, candidate["id"]) is won.json()["passed"]
    events = await outbox_events(cs, "evaluation.result_recorded.v1")
    assert sorted(Counter(e.payload.candidate_id for e in events).values()) == [1, 1, 1]


@needs_concurrent_writers
async def test_P3_result_racing_a_results_upload_is_recorded_once(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    for i in range(3):
        number = resident_id(seq=f"{i:03d}")
        candidate = await new_candidate(cs, institution_id, evaluation_id, number)
        single, uploaded = await asyncio.gather(
            record(cs, institution_id, evaluation_id, candidate["id"], "90", "90"),
            cs.client.post(
                f"/v1/evaluations/{evaluation_id}/results/upload",
                files={"file": ("results.csv", f"身份证号,理论成绩,实操成绩\n{number},30,40\n".encode(), "text/csv")},
                headers=org(cs, institution_id),
            ),
        )
        assert uploaded.status_code == 200, uploaded.text
        applied = uploaded.json()["applied"]
        if single.status_code == 200:
            assert applied == 0
            assert [e["code"] for e in uploaded.json()["row_errors"]] == ["result_already_recorded"]
        else:
            assert (single.status_code, single.json()["code"], applied) == (409, "result_already_recorded", 1)
        assert await stored_result(cs, candidate["id"]) is (single.status_code == 200)
    events = await outbox_events(cs, "evaluation.result_recorded.v1")
    assert sorted(Counter(e.payload.candidate_id for e in events).values()) == [1, 1, 1]


@needs_concurrent_writers
async def test_concurrent_revocations_revoke_once(cs):
    for i in range(3):
        _, cert = await certified(cs, resident_id(seq=f"{i:03d}"), institution_seq=10 + i)
        url = f"/v1/certificates/{cert['id']}/revoke"
        responses = await asyncio.gather(
            cs.client.post(url, json={"reason": "error"}, headers=staff(cs)),
            cs.client.post(url, json={"reason": "fraud"}, headers=cs.headers("admin", sub="admin-2")),
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        [refused] = [r for r in responses if r.status_code == 409]
        assert refused.json()["code"] == "certificate_already_revoked"
    events = await outbox_events(cs, "certificate.revoked.v1")
    assert sorted(Counter(e.payload.certificate_id for e in events).values()) == [1, 1, 1]


@needs_concurrent_writers
async def test_I3_concurrent_status_changes_are_checked_one_after_the_other(cs):
    for i in range(3):
        institution_id = await new_institution(cs, seq=20 + i)
        url = f"/v1/evaluation-institutions/{institution_id}/status"
        responses = await asyncio.gather(
            cs.client.post(url, json={"status": "suspended", "reason": "考评过程不规范"}, headers=staff(cs)),
            cs.client.post(url, json={"status": "suspended", "reason": "投诉核查中"}, headers=cs.headers("admin")),
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        [refused] = [r for r in responses if r.status_code == 409]
        assert refused.json()["code"] == "institution_status_unchanged"
    events = await outbox_events(cs, "evaluation_institution.filed.v1")
    assert [e.payload.status for e in events].count("suspended") == 3


@needs_concurrent_writers
async def test_I2_concurrent_filing_replacements_are_applied_one_after_the_other(cs):
    """Two staff replace an institution's filings at once: both succeed in turn and one list stands (each deleted
    only the filings it saw, so both lists were left: the institution filed for both levels)."""
    institution_id = await new_institution(cs)
    url = f"/v1/evaluation-institutions/{institution_id}/filings"
    lists = [[{"occupation_code": "4-10-01-05", "level": level, "certificate_type": "skill_level"}] for level in (4, 3)]
    responses = await asyncio.gather(*(cs.client.put(url, json={"filings": filings}, headers=staff(cs))
                                       for filings in lists))
    assert [r.status_code for r in responses] == [200, 200]
    async with cs.sessionmaker() as session:
        levels = list(await session.scalars(select(Filing.level).where(Filing.institution_id == uuid.UUID(institution_id))))
    assert len(levels) == 1 and levels[0] in (4, 3)
