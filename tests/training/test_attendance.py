"""Attendance, completion (结业) and drop-outs."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select, update

from training_service.adapters.models import CheckIn, Enrolment, RealnameSubmission, TrainingClass

from tests.training.support import World, count, outbox_payloads, resident_id, today


async def _class_and_trainee(ts, **class_overrides):
    w = await World(ts).setup()
    c = await w.open_class(**class_overrides)
    e, v = await w.active_trainee(c["id"])
    return w, c, e, v


def _sheets(submissions: list[dict]) -> list[dict]:
    return [s for s in submissions if s["record_type"] == "attendance"]


async def test_first_check_in_starts_the_training_and_sends_a_sheet_of_one_line(ts):
    w, c, e, v = await _class_and_trainee(ts)
    day = date.fromisoformat(c["start_date"])
    r = await w.check_in(c["id"], e["id"], day, method="staff", staff_id="T-007")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["day"], body["method"], body["staff_id"], body["attended_days"]) == (day.isoformat(), "staff", "T-007", 1)
    assert body["checked_at"] == f"{day.isoformat()}T09:00:00+08:00"  # sent as 01:00 UTC, answered in county time
    assert await outbox_payloads(ts, "training.checked_in.v1") == []  # no longer emitted
    [started] = await outbox_payloads(ts, "training.started.v1")
    assert started == {"enrolment_id": e["id"], "voucher_id": v["voucher_id"], "class_id": c["id"],
                       "person_key": v["person_key"], "first_day": day.isoformat(),
                       "checked_at": f"{day.isoformat()}T01:00:00Z"}  # the bus keeps UTC
    [sheet] = _sheets(await outbox_payloads(ts, "province.realname.submitted.v1"))  # P1
    assert (sheet["day"], sheet["enrolment_id"], sheet["person_key"]) == (day.isoformat(), None, None)
    assert [(line["enrolment_id"], line["person_key"], line["method"]) for line in sheet["attendance"]] == [
        (e["id"], v["person_key"], "staff")]
    async with ts.sessionmaker() as session:
        [row] = (await session.scalars(select(RealnameSubmission).where(RealnameSubmission.record_type == "attendance"))).all()
    assert (str(row.id), row.day, row.enrolment_id, row.status) == (sheet["submission_id"], day, None, "submitted")


async def test_training_starts_once_whatever_the_order_of_the_days(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    start = date.fromisoformat(c["start_date"])
    assert (await w.check_in(c["id"], e["id"], start + timedelta(days=2))).status_code == 201
    assert (await w.check_in(c["id"], e["id"], start)).status_code == 201  # an earlier day recorded later
    assert (await w.check_in(c["id"], e["id"], start + timedelta(days=2))).status_code == 200
    assert [s["first_day"] for s in await outbox_payloads(ts, "training.started.v1")] == [
        (start + timedelta(days=2)).isoformat()]
    assert [s["day"] for s in _sheets(await outbox_payloads(ts, "province.realname.submitted.v1"))] == [
        (start + timedelta(days=2)).isoformat(), start.isoformat()]


async def test_second_check_in_same_day_counts_once(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    day = date.fromisoformat(c["start_date"])
    first = await w.check_in(c["id"], e["id"], day)
    second = await w.check_in(c["id"], e["id"], day, method="qr")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"] and second.json()["attended_days"] == 1
    assert await count(ts, CheckIn) == 1
    assert len(await outbox_payloads(ts, "training.started.v1")) == 1
    assert len(_sheets(await outbox_payloads(ts, "province.realname.submitted.v1"))) == 1
    r = await ts.client.get(f"/v1/enrolments/{e['id']}", headers=w.org)
    assert r.json()["attended_days"] == 1


async def test_check_in_outside_class_dates_is_refused(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    before = date.fromisoformat(c["start_date"]) - timedelta(days=1)
    r = await w.check_in(c["id"], e["id"], before)
    assert (r.status_code, r.json()["code"]) == (422, "check_in_out_of_dates")
    r = await w.check_in(c["id"], e["id"], today() + timedelta(days=1))
    assert (r.status_code, r.json()["code"]) == (422, "checked_at_in_future")
    assert await count(ts, CheckIn) == 0
    assert await outbox_payloads(ts, "training.started.v1") == []
    assert await count(ts, RealnameSubmission, RealnameSubmission.record_type == "attendance") == 0


async def test_check_in_for_another_class_is_refused(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    other = await w.open_class(name="另一期")
    r = await w.check_in(other["id"], e["id"], date.fromisoformat(c["start_date"]))
    assert (r.status_code, r.json()["code"]) == (422, "enrolment_not_in_class")
    assert await count(ts, CheckIn) == 0


async def test_check_in_needs_staff_id_and_an_active_enrolment(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    day = date.fromisoformat(c["start_date"])
    r = await w.check_in(c["id"], e["id"], day, method="staff")
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await w.check_in(c["id"], e["id"], day, checked_at="2026-12-01T09:00:00")  # naive timestamp
    assert (r.status_code, r.json()["code"], r.json()["errors"]) == (422, "validation_failed", [{
        "location": "body.checked_at", "type": "timezone_aware",
        "message": "a time needs its offset, e.g. 2026-12-06T13:05:00+08:00 (county time) or 2026-12-06T05:05:00Z (UTC)"}])
    number = resident_id(9)
    v = await w.voucher(number)
    pending = (await w.enrol(c["id"], number, v)).json()
    r = await w.check_in(c["id"], pending["id"], day)
    assert (r.status_code, r.json()["code"]) == (409, "enrolment_not_active")
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins",
                             json={"enrolment_id": e["id"], "method": "face", "checked_at": "2026-12-01T01:00:00Z"},
                             headers=ts.headers("training_org", org="00000000-0000-4000-8000-000000000000"))
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    assert await count(ts, CheckIn) == 0


async def _attend(w, c, e, days: int) -> None:
    start = date.fromisoformat(c["start_date"])
    for i in range(days):
        assert (await w.check_in(c["id"], e["id"], start + timedelta(days=i))).status_code == 201


async def test_completion_passed_with_enough_attendance(ts):
    w, c, e, _ = await _class_and_trainee(ts)  # 5 planned days: 4 attended days reach the 80 % share
    await _attend(w, c, e, 4)
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions",
                             json={"enrolment_id": e["id"], "passed": True, "theory_score": "86.5",
                                   "practical_score": "90"}, headers=w.org)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["attended_days"], body["passed"]) == ("completed", 4, True)
    assert (body["theory_score"], body["practical_score"], body["completed_on"]) == ("86.50", "90.00", today().isoformat())
    [event] = await outbox_payloads(ts, "training.completed.v1")
    assert (event["attended_days"], event["passed"], event["theory_score"], event["completed_on"]) == (
        4, True, "86.50", today().isoformat())
    completion = [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == "completion"]
    assert [[(line["enrolment_id"], line["attended_days"], line["passed"]) for line in s["completions"]]
            for s in completion] == [[(e["id"], 4, True)]]  # P1: a completion sheet of one line
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": True},
                             headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "enrolment_already_completed")
    r = await w.check_in(c["id"], e["id"], today())
    assert (r.status_code, r.json()["code"]) == (409, "enrolment_not_active")


async def test_completion_below_minimum_share_cannot_pass_but_can_fail(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    await _attend(w, c, e, 3)  # 3 of 5 = 60 % < 80 %
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": True},
                             headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "attendance_below_minimum")
    async with ts.sessionmaker() as session:
        assert (await session.get(Enrolment, __import__("uuid").UUID(e["id"]))).status == "active"
    assert await outbox_payloads(ts, "training.completed.v1") == []
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": False},
                             headers=w.org)
    assert r.status_code == 201 and (r.json()["passed"], r.json()["attended_days"]) == (False, 3)


async def test_completion_bad_input(ts):
    w, c, e, _ = await _class_and_trainee(ts)
    url = f"/v1/classes/{c['id']}/completions"
    r = await ts.client.post(url, json={"enrolment_id": e["id"], "passed": False, "theory_score": "101"}, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = await ts.client.post(url, json={"enrolment_id": e["id"], "passed": False,
                                        "completed_on": (today() + timedelta(days=1)).isoformat()}, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "completed_on_out_of_range")
    assert await outbox_payloads(ts, "training.completed.v1") == []


async def test_completion_lies_between_the_last_day_attended_and_the_class_end(ts):
    """The follow-up windows (S2, S6) and the voucher's validity run from completed_on: it may not precede the
    training it counts, nor follow the class's last day."""
    start = today() - timedelta(days=20)
    w, c, e, _ = await _class_and_trainee(ts, start_date=start.isoformat(), end_date=today().isoformat())
    for offset in range(5):
        assert (await w.check_in(c["id"], e["id"], start + timedelta(days=offset))).status_code == 201
    async with ts.sessionmaker() as session:  # time passes: the class ended two weeks ago, the completion is late
        await session.execute(update(TrainingClass).where(TrainingClass.id == uuid.UUID(c["id"]))
                              .values(end_date=start + timedelta(days=6)))
        await session.commit()
    url = f"/v1/classes/{c['id']}/completions"
    for wrong in (start + timedelta(days=3), start + timedelta(days=7)):  # before the last day attended; after the end
        r = await ts.client.post(url, json={"enrolment_id": e["id"], "passed": True, "completed_on": wrong.isoformat()},
                                 headers=w.org)
        assert (r.status_code, r.json()["code"]) == (422, "completed_on_out_of_range")
        assert r.json()["detail"] == (f"completed_on must lie between {start + timedelta(days=4)} (the class start or the "
                                      f"last day attended) and {start + timedelta(days=6)} (the class's last day, or today)")
    assert await outbox_payloads(ts, "training.completed.v1") == []
    r = await ts.client.post(url, json={"enrolment_id": e["id"], "passed": True}, headers=w.org)
    assert (r.status_code, r.json()["completed_on"]) == (201, (start + timedelta(days=6)).isoformat())  # the class end


async def test_drop_releases_the_seat_and_emits(ts):
    w, c, e, v = await _class_and_trainee(ts)
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/drop", json={"reason": "外出务工"}, headers=w.org)
    assert r.status_code == 200 and r.json()["status"] == "dropped"
    assert await outbox_payloads(ts, "training.dropped.v1") == [
        {"enrolment_id": e["id"], "voucher_id": v["voucher_id"], "person_key": v["person_key"], "reason": "外出务工"}]
    assert (await ts.client.get(f"/v1/classes/{c['id']}", headers=w.org)).json()["seats_taken"] == 0
    async with ts.sessionmaker() as session:
        dropped = await session.get(Enrolment, uuid.UUID(e["id"]))
    assert (dropped.drop_reason, dropped.dropped_by) == ("外出务工", "org-user-1")  # P10
    r = await ts.client.post(f"/v1/enrolments/{e['id']}/drop", json={"reason": "外出务工"}, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "enrolment_not_active")
    # the voucher service gives the voucher back on `training.dropped`: it may enrol again (here: a later class)
    later = await w.open_class(name="下一期")
    r = await w.enrol(later["id"], resident_id(1), v)
    assert r.status_code == 201, r.text


async def test_simultaneous_check_ins_same_day_count_once(ts):
    import asyncio

    w, c, e, _ = await _class_and_trainee(ts)
    day = date.fromisoformat(c["start_date"])
    results = await asyncio.gather(*(w.check_in(c["id"], e["id"], day, method=m) for m in ("face", "qr", "face", "qr")))
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert await count(ts, CheckIn) == 1
    assert len(await outbox_payloads(ts, "training.started.v1")) == 1
    assert len(_sheets(await outbox_payloads(ts, "province.realname.submitted.v1"))) == 1
