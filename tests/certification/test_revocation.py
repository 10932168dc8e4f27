from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from certification_service.adapters.models import Certificate
from skillkit.county import COUNTY_TZ

from tests.certification.helpers import (
    another_certificate_like,
    certified,
    count,
    issue,
    key_of,
    new_evaluation,
    org,
    outbox_count,
    outbox_events,
    passed_candidate,
    resident_id,
    staff,
)


async def test_revocation_with_reason_emits_certificate_revoked(cs):
    number = resident_id()
    institution_id, cert = await certified(cs, number)
    r = await cs.client.post(
        f"/v1/certificates/{cert['id']}/revoke", json={"reason": "fraud", "note": "冒名顶替"}, headers=staff(cs)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["revoked_reason"]) == ("revoked", "fraud")
    [event] = await outbox_events(cs, "certificate.revoked.v1")
    assert event.partition_key == key_of(cs, number)
    p = event.payload
    assert (p.certificate_id, p.person_key, p.reason, p.certificate_no) == (
        cert["id"], key_of(cs, number), "fraud", cert["certificate_no"]
    )
    assert (p.institution_id, p.occupation_code, p.level, p.revoked_by) == (institution_id, "4-10-01-05", 5, "staff-1")
    assert p.revoked_at.tzinfo is not None


async def test_revoked_at_is_answered_in_county_time(cs):
    """Issue 15: the database keeps UTC; the answer shows ISO 8601 in county time (+08:00), to the second."""
    _, cert = await certified(cs)
    r = await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "error"}, headers=staff(cs))
    [event] = await outbox_events(cs, "certificate.revoked.v1")
    assert r.json()["revoked_at"] == event.payload.revoked_at.astimezone(COUNTY_TZ).isoformat(timespec="seconds")
    async with cs.sessionmaker() as session:
        await session.execute(update(Certificate).where(Certificate.id == uuid.UUID(cert["id"])).values(
            revoked_at=datetime(2026, 12, 6, 5, 5, 0, 900000, tzinfo=timezone.utc)))
        await session.commit()
    r = await cs.client.get(f"/v1/certificates/{cert['id']}", headers=staff(cs))
    assert (r.status_code, r.json()["revoked_at"]) == (200, "2026-12-06T13:05:00+08:00")


async def test_revoking_twice_or_with_unknown_reason_changes_nothing(cs):
    _, cert = await certified(cs)
    url = f"/v1/certificates/{cert['id']}/revoke"
    before = await outbox_count(cs)
    r = await cs.client.post(url, json={"reason": "deceased"}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await outbox_count(cs) == before
    assert (await cs.client.post(url, json={"reason": "error"}, headers=staff(cs))).status_code == 200
    r = await cs.client.post(url, json={"reason": "fraud"}, headers=staff(cs))
    assert (r.status_code, r.json()["code"]) == (409, "certificate_already_revoked")
    assert len(await outbox_events(cs, "certificate.revoked.v1")) == 1


async def test_only_bureau_and_admin_revoke(cs):
    institution_id, cert = await certified(cs)
    url = f"/v1/certificates/{cert['id']}/revoke"
    for headers in (org(cs, institution_id), cs.headers("auditor"), cs.headers("worker")):
        r = await cs.client.post(url, json={"reason": "error"}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.post(url, json={"reason": "error"})
    assert (r.status_code, r.json()["code"]) == (401, "token_missing")
    assert await count(cs, Certificate, Certificate.status == "revoked") == 0
    assert (await cs.client.post(url, json={"reason": "error"}, headers=cs.headers("admin"))).status_code == 200


async def test_certificate_revoked_for_error_can_be_issued_again(cs):
    number = resident_id()
    institution_id, cert = await certified(cs, number)
    await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "error"}, headers=staff(cs))
    evaluation_id = await new_evaluation(cs, institution_id)
    candidate = await passed_candidate(cs, institution_id, evaluation_id, number)
    r = await issue(cs, institution_id, candidate["id"])
    assert r.status_code == 201
    assert r.json()["certificate_no"] != cert["certificate_no"]
    assert await count(cs, Certificate) == 2


async def test_revoked_certificate_is_not_issued_again_from_the_same_result(cs):
    for seq, reason in enumerate(["fraud", "error"], start=1):
        institution_id, cert = await certified(cs, resident_id(seq=f"{seq:03d}"), institution_seq=seq)
        r = await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": reason}, headers=staff(cs))
        assert r.status_code == 200, r.text
        r = await issue(cs, institution_id, cert["candidate_id"])
        assert (r.status_code, r.json()["code"]) == (409, "candidate_already_certified")
        assert cert["certificate_no"] in r.json()["detail"] and "new evaluation" in r.json()["detail"]
        r = await cs.client.post(f"/v1/evaluations/{cert['evaluation_id']}/certificates", headers=org(cs, institution_id))
        assert (r.status_code, r.json()["issued"], r.json()["refused"]) == (200, 0, 0), r.text
    assert await count(cs, Certificate) == 2
    assert len(await outbox_events(cs, "certificate.issued.v1")) == 2


async def test_database_refuses_a_second_certificate_for_the_same_candidate(cs):
    _, cert = await certified(cs)
    await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "error"}, headers=staff(cs))
    async with cs.sessionmaker() as session:
        original = await session.get(Certificate, uuid.UUID(cert["id"]))
        session.add(another_certificate_like(original))  # the only certificate in force: E5 does not object
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_bureau_finds_a_certificate_by_its_number_and_status(cs):
    _, cert = await certified(cs)
    r = await cs.client.get(f"/v1/certificates?certificate_no={cert['display_no']}", headers=staff(cs))
    assert [c["id"] for c in r.json()["items"]] == [cert["id"]]
    r = await cs.client.get("/v1/certificates?status=revoked", headers=staff(cs))
    assert r.json()["items"] == []
    await cs.client.post(f"/v1/certificates/{cert['id']}/revoke", json={"reason": "error"}, headers=staff(cs))
    r = await cs.client.get("/v1/certificates?status=revoked", headers=cs.headers("auditor"))
    assert [(c["id"], c["revoked_reason"]) for c in r.json()["items"]] == [(cert["id"], "error")]
