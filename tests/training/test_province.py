"""P1: every trainee, class, attendance and completion goes to the province real-name system; its verdicts."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from skillkit.contracts.province import RealnameAnswered, RealnameSubmitted
from skillkit.db import utcnow
from skillkit.events import build_event, parse_event
from training_service.adapters.models import RealnameSubmission, kit_tables
from training_service.consumers import PROVINCE_CONSUMER
from training_service.handlers.province import UnknownSubmission
from training_service.province_simulator import answer

from tests.training.support import World, count, feed_province, outbox_payloads


async def _submissions(ts, record_type: str) -> list[dict]:
    return [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == record_type]


async def test_P1_class_trainee_attendance_completion_are_submitted(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    e, v = await w.active_trainee(c["id"])
    start = date.fromisoformat(c["start_date"])
    await w.check_in(c["id"], e["id"], start)
    await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": False},
                         headers=w.org)
    [klass] = await _submissions(ts, "class")
    assert (klass["class_id"], klass["county_code"], klass["policy_year"], klass["institution_id"]) == (
        c["id"], "141124", start.year, w.institution_id)
    assert (klass["start_date"], klass["end_date"], klass["planned_days"], klass["kind"]) == (
        c["start_date"], c["end_date"], 5, "inclusive")
    [trainee] = await _submissions(ts, "trainee")
    assert (trainee["enrolment_id"], trainee["person_key"], trainee["occupation_code"]) == (
        e["id"], v["person_key"], "4-10-01-05")
    [attendance] = await _submissions(ts, "attendance")  # a sheet of one line (one trainee that day)
    assert (attendance["day"], attendance["enrolment_id"], attendance["person_key"]) == (start.isoformat(), None, None)
    assert [(line["enrolment_id"], line["person_key"]) for line in attendance["attendance"]] == [(e["id"], v["person_key"])]
    [completion] = await _submissions(ts, "completion")
    assert (completion["attended_days"], completion["passed"]) == (1, False)
    assert await count(ts, RealnameSubmission) == 4


async def test_P1_order_class_is_submitted_on_approval(ts):
    from tests.training.test_classes import ORDER

    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER)
    assert await _submissions(ts, "class") == []
    await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    assert [s["class_id"] for s in await _submissions(ts, "class")] == [c["id"]]


async def test_P1_province_rejection_is_marked_and_shown(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    sent = {s["enrolment_id"]: s for s in await _submissions(ts, "trainee")}
    rejected = RealnameAnswered(
        submission_id=sent[e1["id"]]["submission_id"], record_type="trainee", class_id=c["id"],
        enrolment_id=e1["id"], person_key=sent[e1["id"]]["person_key"], verdict="rejected",
        reason="trained_elsewhere_this_year", detail="该学员本年度已在其他县参加同类补贴培训",
    )
    accepted = RealnameAnswered(
        submission_id=sent[e2["id"]]["submission_id"], record_type="trainee", class_id=c["id"],
        enrolment_id=e2["id"], person_key=sent[e2["id"]]["person_key"], verdict="accepted",
    )
    now = utcnow()
    assert await feed_province(ts, rejected, rejected.person_key, time=now)
    assert await feed_province(ts, accepted, accepted.person_key, time=now)
    # an OLDER contradicting answer arriving late does not overturn the newest verdict
    older = RealnameAnswered(**{**rejected.model_dump(), "verdict": "accepted", "reason": None, "detail": None})
    assert await feed_province(ts, older, rejected.person_key, time=now - timedelta(minutes=5))
    r = await ts.client.get(f"/v1/enrolments/{e1['id']}", headers=w.org)
    body = r.json()
    assert (body["province_status"], body["province_status_label"], body["province_reason"]) == (
        "rejected", "省平台已驳回", "trained_elsewhere_this_year")
    assert body["status"] == "active"  # the training record stays; the subsidy service will not pay it
    r = await ts.client.get(f"/v1/enrolments/{e2['id']}", headers=w.org)
    assert r.json()["province_status"] == "accepted"
    r = await ts.client.get(f"/v1/classes/{c['id']}/enrolments", params={"province_status": "rejected"},
                            headers=w.bureau)
    assert [e["id"] for e in r.json()["items"]] == [e1["id"]]
    # a NEWER answer (the province corrected itself) wins
    assert await feed_province(ts, older, rejected.person_key, time=now + timedelta(minutes=5))
    r = await ts.client.get(f"/v1/enrolments/{e1['id']}", headers=w.org)
    assert (r.json()["province_status"], r.json()["province_reason"]) == ("accepted", None)


async def test_P1_answer_to_an_unknown_submission_is_refused_and_stores_nothing(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    [klass] = await _submissions(ts, "class")
    stray = RealnameAnswered(submission_id=str(uuid.uuid4()), record_type="class", class_id=c["id"], verdict="accepted")
    with pytest.raises(UnknownSubmission):
        await feed_province(ts, stray, c["id"])
    mismatched = RealnameAnswered(submission_id=klass["submission_id"], record_type="trainee", class_id=c["id"],
                                  verdict="accepted")
    with pytest.raises(UnknownSubmission):
        await feed_province(ts, mismatched, c["id"])
    assert await count(ts, kit_tables.inbox) == 0
    assert await count(ts, RealnameSubmission, RealnameSubmission.status == "submitted") == 1


async def test_P1_verdicts_of_one_consumer_batch_newest_stands_in_any_order(ts):
    """A batch's verdicts are stored together at its end, with the rules of one by one: per submission the newest
    by event time stands, of equal times the later; a stray answer fails the whole batch, which stores nothing."""
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    sent = {s["enrolment_id"]: s for s in await _submissions(ts, "trainee")}
    [klass] = await _submissions(ts, "class")
    now = utcnow()

    def answered(e: dict, verdict: str, minutes: int):
        s = sent[e["id"]]
        payload = RealnameAnswered(
            submission_id=s["submission_id"], record_type="trainee", class_id=c["id"], enrolment_id=e["id"],
            person_key=s["person_key"], verdict=verdict, reason="identity_mismatch" if verdict == "rejected" else None)
        return parse_event(build_event(payload, source="/tests", partition_key=s["person_key"],
                                       time=now + timedelta(minutes=minutes))[2])

    stray = parse_event(build_event(RealnameAnswered(submission_id=str(uuid.uuid4()), record_type="class",
                                                     class_id=c["id"], verdict="accepted"),
                                    source="/tests", partition_key=c["id"])[2])
    processor = ts.runtime.processors[PROVINCE_CONSUMER]
    with pytest.raises(UnknownSubmission):
        await processor.apply_batch([answered(e1, "rejected", 0), stray])
    assert await count(ts, RealnameSubmission, RealnameSubmission.answered_at.is_not(None)) == 0
    assert await count(ts, kit_tables.inbox, kit_tables.inbox.c.consumer == PROVINCE_CONSUMER) == 0
    klass_answer = parse_event(build_event(RealnameAnswered(submission_id=klass["submission_id"], record_type="class",
                                                            class_id=c["id"], verdict="accepted"),
                                           source="/tests", partition_key=c["id"])[2])
    batch = [answered(e1, "rejected", 2), answered(e1, "accepted", 1),  # the newer came first: it stands
             answered(e2, "rejected", 1), answered(e2, "accepted", 1),  # equal times: the later stands
             klass_answer]
    assert await processor.apply_batch(batch) == 5
    assert await processor.apply_batch([answered(e2, "rejected", 0)]) == 1  # older than the stored one: ignored
    statuses = {}
    for e in (e1, e2):
        body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
        statuses[e["id"]] = (body["province_status"], body["province_reason"])
    assert statuses == {e1["id"]: ("rejected", "identity_mismatch"), e2["id"]: ("accepted", None)}
    async with ts.sessionmaker() as session:
        rows = dict((await session.execute(select(RealnameSubmission.record_type, RealnameSubmission.status)
                                           .where(RealnameSubmission.record_type == "class"))).all())
    assert rows == {"class": "accepted"}


def _submission(record_type: str = "trainee", n: int = 0) -> RealnameSubmitted:
    return RealnameSubmitted(submission_id=str(uuid.UUID(int=n)), record_type=record_type, county_code="141124",
                             class_id="c-1", enrolment_id="e-1", person_key="pk", policy_year=2026)


def test_P1_simulator_is_deterministic_and_rejects_the_configured_share():
    verdicts = [answer(_submission(n=n), 0.1, "seed-a") for n in range(2000)]
    assert verdicts == [answer(_submission(n=n), 0.1, "seed-a") for n in range(2000)]
    rejected = [v for v in verdicts if v.verdict == "rejected"]
    assert 150 <= len(rejected) <= 250
    assert {v.reason for v in rejected} == {"identity_mismatch", "trained_elsewhere_this_year"}
    assert all(answer(_submission(n=n), 1.0, "s").verdict == "rejected" for n in range(50))
    assert all(answer(_submission(n=n), 0.0, "s").verdict == "accepted" for n in range(50))
    assert answer(_submission("attendance"), 1.0, "s").verdict == "accepted"  # only trainee records are rejected


async def test_P1_an_attendance_sheet_is_answered_as_one_record(ts):
    """The simulator answers a sheet once (never rejected: only trainee records are); the verdict is the sheet's and
    leaves the trainees' own province status alone."""
    from tests.training.test_bulk import csv_file

    w = await World(ts).setup()
    c = await w.open_class()
    trainees = [(await w.active_trainee(c["id"], i))[0] for i in (1, 2, 3)]
    start = date.fromisoformat(c["start_date"])
    rows = [f"{e['id']},face,{start + timedelta(days=d)} 08:30" for d in (0, 1) for e in trainees]
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", headers=w.org,
                             files=csv_file("\n".join(["enrolment_id,method,checked_at"] + rows)))
    assert r.json()["applied"] == 6
    sheets = await _submissions(ts, "attendance")
    assert [(s["day"], len(s["attendance"])) for s in sheets] == [(start.isoformat(), 3), ((start + timedelta(days=1)).isoformat(), 3)]
    verdicts = [answer(RealnameSubmitted.model_validate(s), 1.0, "s") for s in sheets]
    assert [(v.verdict, v.record_type, v.enrolment_id, v.person_key) for v in verdicts] == [
        ("accepted", "attendance", None, None)] * 2
    for verdict in verdicts:
        assert await feed_province(ts, verdict, c["id"])
    async with ts.sessionmaker() as session:
        stored = (await session.execute(
            select(RealnameSubmission.day, RealnameSubmission.status, RealnameSubmission.answered_at.is_not(None))
            .where(RealnameSubmission.record_type == "attendance").order_by(RealnameSubmission.day))).all()
    assert [tuple(row) for row in stored] == [(start, "accepted", True), (start + timedelta(days=1), "accepted", True)]
    r = await ts.client.get(f"/v1/classes/{c['id']}/enrolments", headers=w.org)
    assert {e["province_status"] for e in r.json()["items"]} == {"submitted"}  # the trainee records are unanswered
