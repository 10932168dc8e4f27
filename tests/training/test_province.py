"""P1: every trainee, class, attendance and completion goes to the province real-name system; its verdicts.

Trainee, attendance and completion records go as sheets of a class; the province answers a trainee or completion
sheet once, with a verdict per line.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from skillkit.contracts.province import LineVerdict, RealnameAnswered, RealnameSubmitted
from skillkit.db import utcnow
from skillkit.events import build_event, parse_event
from skillkit.testing import plugin
from training_service.adapters.models import Enrolment, RealnameSubmission, kit_tables
from training_service.consumers import PROVINCE_CONSUMER
from training_service.handlers.province import UnknownSubmission
from testsupport.province_simulator import REJECTION_DETAIL, answer

from tests.training.support import World, count, credit_code, feed_province, outbox_payloads, resident_id

MISMATCH = "身份信息与公安人口库不一致"


def open_identity(line: dict) -> dict:
    """What the province reads from a trainee line's sealed identity (with the development private key)."""
    from skillkit import sealed
    from skillkit.contracts.province import identity_aad
    from training_service.config import DEV_PROVINCE_KEY_ID, DEV_PROVINCE_KEY_SEED

    keys = {DEV_PROVINCE_KEY_ID: sealed.private_key_from_seed(DEV_PROVINCE_KEY_SEED)}
    return json.loads(sealed.open_box(keys, line["identity"], identity_aad(line["enrolment_id"], line["person_key"])))
ELSEWHERE = "该学员本年度已在其他县参加同类补贴培训"


async def _submissions(ts, record_type: str) -> list[dict]:
    return [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == record_type]


def _lines(sheet: dict, field: str) -> list[tuple[str, str]]:
    return [(line["enrolment_id"], line["person_key"]) for line in sheet[field]]


def _sheet_answer(sheet: dict, rejected: dict[str, tuple[str, str]] | None = None) -> RealnameAnswered:
    """The province's answer to a trainee or completion sheet: `rejected` maps enrolment id -> (reason, detail)."""
    rejected = rejected or {}
    field = "trainees" if sheet["record_type"] == "trainee" else "completions"
    lines = [LineVerdict(enrolment_id=line["enrolment_id"], person_key=line["person_key"],
                         verdict="rejected" if line["enrolment_id"] in rejected else "accepted",
                         reason=rejected.get(line["enrolment_id"], (None, None))[0],
                         detail=rejected.get(line["enrolment_id"], (None, None))[1])
             for line in sheet[field]]
    return RealnameAnswered(
        submission_id=sheet["submission_id"], record_type=sheet["record_type"], class_id=sheet["class_id"],
        verdict="rejected" if rejected else "accepted", lines=lines,
        detail=f"共 {len(lines)} 条，驳回 {len(rejected)} 条" if rejected else None)


async def _province(ts, w: World, enrolment_id: str) -> tuple:
    body = (await ts.client.get(f"/v1/enrolments/{enrolment_id}", headers=w.org)).json()
    return body["province_status"], body["province_reason"], body["province_detail"]


async def _stored(ts, submission_id: str) -> tuple:
    async with ts.sessionmaker() as session:
        row = await session.get(RealnameSubmission, uuid.UUID(submission_id))
    return row.status, row.reason, row.detail, row.answered_at is not None


async def test_P1_class_trainee_attendance_completion_are_submitted(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    e, v = await w.active_trainee(c["id"])
    start = date.fromisoformat(c["start_date"])
    await w.check_in(c["id"], e["id"], start, evidence_ref="FACE-0001")
    await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": False},
                         headers=w.org)
    [klass] = await _submissions(ts, "class")
    assert (klass["class_id"], klass["county_code"], klass["policy_year"], klass["institution_id"]) == (
        c["id"], "141124", start.year, w.institution_id)
    assert (klass["start_date"], klass["end_date"], klass["planned_days"], klass["kind"]) == (
        c["start_date"], c["end_date"], 5, "inclusive")
    # what the province files a class with: institution and its GB 32100 credit code, venue, teachers, hours
    # (5 planned days x 8 class hours; the catalogue's 初级工 minimum of 5 days x 8)
    assert (klass["institution_name"], klass["institution_credit_code"], klass["venue"], klass["teachers"],
            klass["planned_hours"], klass["standard_hours"], klass["version"]) == (
        "临县技工学校", credit_code(), "临县技工学校实训楼301", ["李老师"], 40, 40, 1)
    [trainee] = await _submissions(ts, "trainee")  # a sheet of one line (one bound event in the batch)
    assert (trainee["enrolment_id"], trainee["person_key"], trainee["occupation_code"]) == (None, None, "4-10-01-05")
    [line] = trainee["trainees"]
    assert (line["enrolment_id"], line["person_key"], line["identity"]["kid"]) == (
        e["id"], v["person_key"], "dev-province-1")
    assert resident_id(1) not in json.dumps(trainee, ensure_ascii=False) and "张三" not in json.dumps(
        trainee, ensure_ascii=False)  # the topic never holds them in clear: sealed for the province only
    assert open_identity(line) == {"name": "张三", "id_number": resident_id(1)}
    [attendance] = await _submissions(ts, "attendance")  # a sheet of one line (one trainee that day)
    assert (attendance["day"], attendance["enrolment_id"], attendance["person_key"]) == (start.isoformat(), None, None)
    assert [(line["enrolment_id"], line["person_key"], line["method"], line["evidence_ref"])
            for line in attendance["attendance"]] == [(e["id"], v["person_key"], "face", "FACE-0001")]
    [completion] = await _submissions(ts, "completion")  # the single completion endpoint: a sheet of one line
    assert (completion["enrolment_id"], completion["attended_days"], completion["passed"]) == (None, None, None)
    assert completion["completions"] == [
        {"enrolment_id": e["id"], "person_key": v["person_key"], "attended_days": 1, "passed": False}]
    assert await count(ts, RealnameSubmission) == 4
    assert await count(ts, RealnameSubmission, RealnameSubmission.enrolment_id.is_not(None)) == 0
    body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
    assert (body["province_status"], body["completion_province_status"], body["completion_province_status_label"]) == (
        "submitted", "submitted", "已上报")


async def test_P1_order_class_is_submitted_on_approval(ts):
    from tests.training.test_classes import ORDER

    w = await World(ts).setup()
    c = await w.open_class(kind="order", order=ORDER)
    assert await _submissions(ts, "class") == []
    await ts.client.post(f"/v1/classes/{c['id']}/decision", json={"approved": True}, headers=w.bureau)
    assert [s["class_id"] for s in await _submissions(ts, "class")] == [c["id"]]


async def test_P1_binds_of_one_batch_go_as_one_trainee_sheet_per_class(ts):
    """N binds in one consumer batch: one trainee sheet per class, its lines the batch's trainees in event order,
    keyed by the class; one submission row, without an enrolment of its own."""
    w = await World(ts).setup()
    c, other = await w.open_class(), await w.open_class(name="第二期")
    trainees = await w.active_trainees(c["id"], [3, 1, 4, 2, 5])
    [sheet] = await _submissions(ts, "trainee")
    assert _lines(sheet, "trainees") == [(e["id"], v["person_key"]) for e, v in trainees]
    assert (sheet["class_id"], sheet["enrolment_id"], sheet["person_key"]) == (c["id"], None, None)
    async with ts.sessionmaker() as session:
        keys = (await session.execute(select(kit_tables.outbox.c.partition_key, kit_tables.outbox.c.body).where(
            kit_tables.outbox.c.event_type == "province.realname.submitted.v1"))).all()
        [row] = (await session.scalars(select(RealnameSubmission).where(RealnameSubmission.record_type == "trainee"))).all()
    assert [key for key, body in keys if json.loads(body)["data"]["record_type"] == "trainee"] == [c["id"]]
    assert (str(row.id), row.class_id, row.enrolment_id, row.lines) == (
        sheet["submission_id"], c["id"], None, [[e["id"], v["person_key"]] for e, v in trainees])
    # another batch in another class: a sheet of its own
    [(e6, v6)] = await w.active_trainees(other["id"], [6])
    assert [(s["class_id"], _lines(s, "trainees")) for s in await _submissions(ts, "trainee")][1:] == [
        (other["id"], [(e6["id"], v6["person_key"])])]


async def test_P1_a_sheet_answer_marks_exactly_the_rejected_line(ts):
    """One rejected line: that enrolment is rejected with the line's reason and detail, the others accepted; the
    sheet's submission gets the sheet's verdict and detail. An older answer arriving late changes nothing, a
    duplicate (same event) is applied once, a newer answer wins."""
    w = await World(ts).setup()
    c = await w.open_class()
    trainees = await w.active_trainees(c["id"], [1, 2, 3])
    (e1, _), (e2, _), (e3, _) = trainees
    [sheet] = await _submissions(ts, "trainee")
    rejected = _sheet_answer(sheet, {e2["id"]: ("trained_elsewhere_this_year", ELSEWHERE)})
    now = utcnow()
    first_id = str(uuid.uuid4())
    processor = ts.runtime.processors[PROVINCE_CONSUMER]

    def event(payload, time, event_id=None):
        return parse_event(build_event(payload, source="/tests", partition_key=c["id"], time=time,
                                       event_id=event_id)[2])

    assert await processor.apply(event(rejected, now, first_id))
    assert [await _province(ts, w, e["id"]) for e in (e1, e2, e3)] == [
        ("accepted", None, None), ("rejected", "trained_elsewhere_this_year", ELSEWHERE), ("accepted", None, None)]
    assert await _stored(ts, sheet["submission_id"]) == ("rejected", None, "共 3 条，驳回 1 条", True)
    r = await ts.client.get(f"/v1/classes/{c['id']}/enrolments", params={"province_status": "rejected"},
                            headers=w.bureau)
    assert [(e["id"], e["province_status_label"], e["status"]) for e in r.json()["items"]] == [
        (e2["id"], "省平台已驳回", "active")]  # the training record stays; the subsidy service will not pay it
    # an OLDER contradicting answer arriving late does not overturn the newest verdict
    assert await processor.apply(event(_sheet_answer(sheet), now - timedelta(minutes=5)))
    assert (await _province(ts, w, e2["id"]))[0] == "rejected"
    assert await _stored(ts, sheet["submission_id"]) == ("rejected", None, "共 3 条，驳回 1 条", True)
    # an answer of the same time coming later wins (as one by one) ...
    assert await processor.apply(event(_sheet_answer(sheet), now))
    assert [(await _province(ts, w, e["id"]))[0] for e in (e1, e2, e3)] == ["accepted"] * 3
    # ... so the first answer, delivered again, would win again: it is a duplicate and applied once
    assert not await processor.apply(event(rejected, now, first_id))
    assert [(await _province(ts, w, e["id"]))[0] for e in (e1, e2, e3)] == ["accepted"] * 3
    assert await _stored(ts, sheet["submission_id"]) == ("accepted", None, None, True)
    # a NEWER answer (the province corrected itself) wins
    mismatch = _sheet_answer(sheet, {e1["id"]: ("identity_mismatch", MISMATCH), e3["id"]: ("identity_mismatch", None)})
    assert await processor.apply(event(mismatch, now + timedelta(minutes=5)))
    assert [await _province(ts, w, e["id"]) for e in (e1, e2, e3)] == [
        ("rejected", "identity_mismatch", MISMATCH), ("accepted", None, None), ("rejected", "identity_mismatch", None)]
    assert await _stored(ts, sheet["submission_id"]) == ("rejected", None, "共 3 条，驳回 2 条", True)


async def test_P1_a_completion_line_rejected_is_shown_on_the_enrolment(ts):
    """Completion verdicts mark the enrolment's completion columns (never the trainee verdict): shown on the
    enrolment and filterable, so the institution sees which completions the province refused."""
    w, c, e1, e2, _, sheet = await _two_completed_with_both_sheets(ts)
    assert await feed_province(ts, _sheet_answer(sheet, {e2["id"]: ("identity_mismatch", "结业信息与实名信息不符")}),
                               c["id"])
    statuses = {}
    for e in (e1, e2):
        body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
        statuses[e["id"]] = (body["completion_province_status"], body["completion_province_status_label"],
                             body["completion_province_reason"], body["completion_province_detail"],
                             body["province_status"])
    assert statuses == {
        e1["id"]: ("accepted", "省平台已通过", None, None, "submitted"),
        e2["id"]: ("rejected", "省平台已驳回", "identity_mismatch", "结业信息与实名信息不符", "submitted")}
    r = await ts.client.get(f"/v1/classes/{c['id']}/enrolments", params={"completion_province_status": "rejected"},
                            headers=w.org)
    assert [e["id"] for e in r.json()["items"]] == [e2["id"]]
    assert await _stored(ts, sheet["submission_id"]) == ("rejected", None, "共 2 条，驳回 1 条", True)


async def _two_completed_with_both_sheets(ts) -> tuple:
    """A class of two trainees, bound and completed: its trainee sheet and its completion sheet."""
    from tests.training.test_bulk import csv_file

    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainees(c["id"], [1, 2])
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions/bulk", headers=w.org,
                             files=csv_file(f"enrolment_id,passed\n{e1['id']},否\n{e2['id']},否\n"))
    assert r.json()["applied"] == 2
    [trainees], [completions] = await _submissions(ts, "trainee"), await _submissions(ts, "completion")
    return w, c, e1, e2, trainees, completions


async def test_P1_one_batch_marks_trainee_and_completion_lines_of_the_same_enrolments(ts):
    """A consumer batch holding a trainee sheet's answer and a completion sheet's answer marks both columns of each
    enrolment (on PostgreSQL the rows are locked in id order first, the order a bulk completion's flush takes)."""
    w, c, e1, e2, trainees, completions = await _two_completed_with_both_sheets(ts)
    batch = [parse_event(build_event(payload, source="/tests", partition_key=c["id"])[2]) for payload in (
        _sheet_answer(trainees, {e2["id"]: ("identity_mismatch", MISMATCH)}),
        _sheet_answer(completions, {e1["id"]: ("trained_elsewhere_this_year", ELSEWHERE)}))]
    assert await ts.runtime.processors[PROVINCE_CONSUMER].apply_batch(batch) == 2
    marks = {}
    for e in (e1, e2):
        body = (await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)).json()
        marks[e["id"]] = (body["province_status"], body["province_reason"],
                          body["completion_province_status"], body["completion_province_reason"])
    assert marks == {
        e1["id"]: ("accepted", None, "rejected", "trained_elsewhere_this_year"),
        e2["id"]: ("rejected", "identity_mismatch", "accepted", None)}


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="row locks are PostgreSQL's (SQLite serialises writers)")
async def test_P1_marking_does_not_wait_for_check_ins_being_inserted_for_the_same_trainees(ts):
    """A check-in upload's inserts hold key-share locks on their enrolments (foreign keys) until it commits. The
    marks' row lock is FOR NO KEY UPDATE, as the UPDATEs themselves: it must not wait for them (FOR UPDATE did, and
    deadlocked with an upload inserting in file order)."""
    w, c, e1, e2, trainees, completions = await _two_completed_with_both_sheets(ts)
    batch = [parse_event(build_event(_sheet_answer(sheet), source="/tests", partition_key=c["id"])[2])
             for sheet in (trainees, completions)]
    async with ts.runtime.engine.connect() as upload:
        await upload.execute(text("SELECT id FROM enrolments WHERE id = :e FOR KEY SHARE"), {"e": uuid.UUID(e2["id"])})
        applied = await asyncio.wait_for(ts.runtime.processors[PROVINCE_CONSUMER].apply_batch(batch), timeout=10)
        await upload.rollback()
    assert applied == 2
    assert [(await _province(ts, w, e["id"]))[0] for e in (e1, e2)] == ["accepted", "accepted"]


async def test_P1_answer_to_an_unknown_submission_is_refused_and_stores_nothing(ts):
    """Not ours: a submission never sent, a record type or class that does not match, a sheet answered without
    lines, a line not on the sheet (another enrolment, or another person key), a line missing or twice, lines on a
    record that is no sheet."""
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainees(c["id"], [1, 2])
    [(stranger, _)] = await w.active_trainees((await w.open_class(name="第二期"))["id"], [3])
    [klass, _] = await _submissions(ts, "class")
    [sheet, _] = await _submissions(ts, "trainee")
    good = _sheet_answer(sheet)
    line = good.lines[0]
    not_ours = [
        RealnameAnswered(submission_id=str(uuid.uuid4()), record_type="class", class_id=c["id"], verdict="accepted"),
        RealnameAnswered(submission_id=klass["submission_id"], record_type="trainee", class_id=c["id"],
                         verdict="accepted"),
        good.model_copy(update={"class_id": str(uuid.uuid4())}),
        good.model_copy(update={"lines": None}),
        good.model_copy(update={"lines": []}),
        good.model_copy(update={"lines": [*good.lines, line.model_copy(update={"enrolment_id": stranger["id"]})]}),
        good.model_copy(update={"lines": [good.lines[0], line.model_copy(update={"enrolment_id": str(uuid.uuid4())})]}),
        good.model_copy(update={"lines": [good.lines[0], good.lines[1].model_copy(update={"person_key": "pk-x"})]}),
        good.model_copy(update={"lines": good.lines[:1]}),
        good.model_copy(update={"lines": [good.lines[0], good.lines[0]]}),
        RealnameAnswered(submission_id=klass["submission_id"], record_type="class", class_id=c["id"],
                         verdict="accepted", lines=[line]),
    ]
    for answer_ in not_ours:
        with pytest.raises(UnknownSubmission):
            await feed_province(ts, answer_, c["id"])
    assert await count(ts, kit_tables.inbox, kit_tables.inbox.c.consumer == PROVINCE_CONSUMER) == 0
    assert await count(ts, RealnameSubmission, RealnameSubmission.status != "submitted") == 0
    assert await count(ts, Enrolment, Enrolment.province_status != "submitted") == 0
    reordered = good.model_copy(update={"lines": list(reversed(good.lines))})
    assert await feed_province(ts, reordered, c["id"])  # the lines in another order are the same sheet: ours
    assert await count(ts, Enrolment, Enrolment.province_status == "accepted") == 2


async def test_P1_verdicts_of_one_consumer_batch_newest_stands_in_any_order(ts):
    """A batch's verdicts are stored together at its end, with the rules of one by one: per submission the newest
    by event time stands, of equal times the later; a stray answer fails the whole batch, which stores nothing."""
    w = await World(ts).setup()
    c = await w.open_class()
    [(e1, _)] = await w.active_trainees(c["id"], [1])  # two batches: two sheets
    [(e2, _)] = await w.active_trainees(c["id"], [2])
    sheets = {s["trainees"][0]["enrolment_id"]: s for s in await _submissions(ts, "trainee")}
    [klass] = await _submissions(ts, "class")
    now = utcnow()

    def answered(e: dict, verdict: str, minutes: int):
        sheet = sheets[e["id"]]
        payload = _sheet_answer(sheet, {e["id"]: ("identity_mismatch", MISMATCH)} if verdict == "rejected" else None)
        return parse_event(build_event(payload, source="/tests", partition_key=c["id"],
                                       time=now + timedelta(minutes=minutes))[2])

    stray = parse_event(build_event(_sheet_answer(sheets[e1["id"]]).model_copy(
        update={"lines": [LineVerdict(enrolment_id=e2["id"], person_key=sheets[e2["id"]]["trainees"][0]["person_key"],
                                      verdict="accepted")]}), source="/tests", partition_key=c["id"])[2])
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
    statuses = {e["id"]: (await _province(ts, w, e["id"])) for e in (e1, e2)}
    assert statuses == {e1["id"]: ("rejected", "identity_mismatch", MISMATCH), e2["id"]: ("accepted", None, None)}
    async with ts.sessionmaker() as session:
        rows = sorted(tuple(row) for row in (await session.execute(
            select(RealnameSubmission.record_type, RealnameSubmission.status, RealnameSubmission.detail))).all())
    assert rows == [("class", "accepted", None), ("trainee", "accepted", None), ("trainee", "rejected", "共 1 条，驳回 1 条")]


async def test_P1_a_record_sent_alone_before_sheets_is_still_answered_as_before(ts):
    """A trainee record of one enrolment sent before sheets (its row names the enrolment, no lines): its single
    answer still marks the enrolment."""
    w = await World(ts).setup()
    c = await w.open_class()
    e, v = await w.active_trainee(c["id"])
    submission_id = uuid.uuid4()
    async with ts.sessionmaker() as session:
        session.add(RealnameSubmission(id=submission_id, record_id=submission_id, record_type="trainee",
                                       class_id=c["id"], enrolment_id=e["id"], status="submitted", created_at=utcnow()))
        await session.commit()
    assert await feed_province(ts, RealnameAnswered(
        submission_id=str(submission_id), record_type="trainee", class_id=c["id"], enrolment_id=e["id"],
        person_key=v["person_key"], verdict="rejected", reason="identity_mismatch", detail=MISMATCH), v["person_key"])
    assert await _province(ts, w, e["id"]) == ("rejected", "identity_mismatch", MISMATCH)
    assert await _stored(ts, str(submission_id)) == ("rejected", "identity_mismatch", MISMATCH, True)


def _sheet(record_type: str, enrolment_ids: list[str], n: int = 0) -> RealnameSubmitted:
    lines = [{"enrolment_id": ident, "person_key": f"pk-{ident}"} for ident in enrolment_ids]
    if record_type == "completion":
        lines = [{**line, "attended_days": 5, "passed": True} for line in lines]
    return RealnameSubmitted.model_validate({
        "submission_id": str(uuid.UUID(int=n)), "record_type": record_type, "county_code": "141124", "class_id": "c-1",
        "policy_year": 2026, ("trainees" if record_type == "trainee" else "completions"): lines})


def test_P1_simulator_answers_a_sheet_per_line_deterministically():
    """Each trainee line is drawn on (seed, person key): the same trainee gets the same verdict on any sheet and
    in any position; the configured share is rejected, with both reasons; the sheet's verdict follows its lines."""
    ids = [str(uuid.UUID(int=1000 + i)) for i in range(2000)]
    verdict = answer(_sheet("trainee", ids, n=1), 0.1, "seed-a")
    assert verdict == answer(_sheet("trainee", ids, n=1), 0.1, "seed-a")
    by_line = {line.enrolment_id: line for line in verdict.lines}
    assert [line.enrolment_id for line in verdict.lines] == ids  # in sheet order
    again = answer(_sheet("trainee", list(reversed(ids[:100])), n=2), 0.1, "seed-a")  # another sheet, other order
    assert all(line == by_line[line.enrolment_id] for line in again.lines)
    rejected = [line for line in verdict.lines if line.verdict == "rejected"]
    assert 150 <= len(rejected) <= 250
    assert {line.reason for line in rejected} == {"identity_mismatch", "trained_elsewhere_this_year"}
    assert all(line.detail == REJECTION_DETAIL[line.reason] for line in rejected)
    assert {(line.reason, line.detail) for line in verdict.lines if line.verdict == "accepted"} == {(None, None)}
    assert all(line.person_key == f"pk-{line.enrolment_id}" for line in verdict.lines)
    assert (verdict.verdict, verdict.detail, verdict.reason, verdict.enrolment_id, verdict.person_key) == (
        "rejected", f"共 2000 条，驳回 {len(rejected)} 条", None, None, None)
    # the draw is the person's: the same person enrolled elsewhere (another enrolment id) gets the same verdict
    elsewhere = RealnameSubmitted.model_validate({
        "submission_id": str(uuid.UUID(int=9)), "record_type": "trainee", "county_code": "141124", "class_id": "c-2",
        "policy_year": 2026, "trainees": [{"enrolment_id": f"e-{line.enrolment_id}", "person_key": line.person_key}
                                          for line in verdict.lines[:300]]})
    assert [(line.verdict, line.reason) for line in answer(elsewhere, 0.1, "seed-a").lines] == [
        (line.verdict, line.reason) for line in verdict.lines[:300]]
    other_seed = answer(_sheet("trainee", ids, n=1), 0.1, "seed-b")
    assert [line.verdict for line in other_seed.lines] != [line.verdict for line in verdict.lines]
    accepted = [i for i in ids if by_line[i].verdict == "accepted"][:5]
    assert (answer(_sheet("trainee", accepted), 0.1, "seed-a").verdict, answer(_sheet("trainee", accepted), 0.1,
                                                                                  "seed-a").detail) == ("accepted", None)
    assert {line.verdict for line in answer(_sheet("trainee", ids[:50]), 1.0, "s").lines} == {"rejected"}
    assert {line.verdict for line in answer(_sheet("trainee", ids[:50]), 0.0, "s").lines} == {"accepted"}
    completion = answer(_sheet("completion", ids[:50]), 1.0, "s")  # only trainee lines are rejected
    assert (completion.verdict, completion.record_type, {line.verdict for line in completion.lines}) == (
        "accepted", "completion", {"accepted"})
    assert [line.enrolment_id for line in completion.lines] == ids[:50]


def test_P1_simulator_answers_class_and_attendance_records_as_one_record():
    klass = RealnameSubmitted(submission_id=str(uuid.UUID(int=7)), record_type="class", county_code="141124",
                              class_id="c-1", policy_year=2026)
    assert (answer(klass, 1.0, "s").verdict, answer(klass, 1.0, "s").lines) == ("accepted", None)


async def test_P1_an_attendance_sheet_is_answered_as_one_record(ts):
    """The simulator answers an attendance sheet once, without lines (never rejected); the verdict is the sheet's
    and leaves the trainees' own province status alone."""
    from tests.training.test_bulk import csv_file

    w = await World(ts).setup()
    c = await w.open_class()
    trainees = [e for e, _ in await w.active_trainees(c["id"], [1, 2, 3])]
    start = date.fromisoformat(c["start_date"])
    rows = [f"{e['id']},face,{start + timedelta(days=d)} 08:30" for d in (0, 1) for e in trainees]
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", headers=w.org,
                             files=csv_file("\n".join(["enrolment_id,method,checked_at"] + rows)))
    assert r.json()["applied"] == 6
    sheets = await _submissions(ts, "attendance")
    assert [(s["day"], len(s["attendance"])) for s in sheets] == [(start.isoformat(), 3), ((start + timedelta(days=1)).isoformat(), 3)]
    verdicts = [answer(RealnameSubmitted.model_validate(s), 1.0, "s") for s in sheets]
    assert [(v.verdict, v.record_type, v.enrolment_id, v.person_key, v.lines) for v in verdicts] == [
        ("accepted", "attendance", None, None, None)] * 2
    for verdict in verdicts:
        assert await feed_province(ts, verdict, c["id"])
    async with ts.sessionmaker() as session:
        stored = (await session.execute(
            select(RealnameSubmission.day, RealnameSubmission.status, RealnameSubmission.answered_at.is_not(None))
            .where(RealnameSubmission.record_type == "attendance").order_by(RealnameSubmission.day))).all()
    assert [tuple(row) for row in stored] == [(start, "accepted", True), (start + timedelta(days=1), "accepted", True)]
    r = await ts.client.get(f"/v1/classes/{c['id']}/enrolments", headers=w.org)
    assert {e["province_status"] for e in r.json()["items"]} == {"submitted"}  # the trainee sheet is unanswered


async def test_P1_simulator_answers_drive_the_marks_end_to_end(ts):
    """The simulator's answer to a real trainee sheet is stored as any province answer: each line as drawn."""
    w = await World(ts).setup()
    c = await w.open_class()
    trainees = await w.active_trainees(c["id"], list(range(1, 11)))
    [sheet] = await _submissions(ts, "trainee")
    verdict = answer(RealnameSubmitted.model_validate(sheet), 0.5, "seed-e2e")
    assert await feed_province(ts, verdict, c["id"])
    expected = {line.enrolment_id: (str(line.verdict), line.reason and str(line.reason), line.detail)
                for line in verdict.lines}
    assert {e["id"]: await _province(ts, w, e["id"]) for e, _ in trainees} == expected
    assert {s for s, _, _ in expected.values()} == {"accepted", "rejected"}  # this seed draws both
