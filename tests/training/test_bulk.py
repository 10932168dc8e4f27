"""Bulk uploads (CSV, XLSX): every bad row is reported with its line number, the good ones are applied."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select, text

from skillkit.testing import plugin
from skillkit.testing.harness import eventually

from training_service.adapters.models import CheckIn, RealnameSubmission

from tests.training.support import World, count, outbox_payloads, outbox_types, today


def csv_file(text: str, name: str = "upload.csv") -> dict:
    return {"file": (name, text.encode("utf-8-sig"), "text/csv")}


def xlsx_file(rows: list[list]) -> dict:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return {"file": ("upload.xlsx", buffer.getvalue(),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


async def test_bulk_check_ins_csv_reports_bad_lines_and_applies_good_ones(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    other = await w.open_class(name="另一期")
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    (stranger, _) = await w.active_trainee(other["id"], 3)
    start = date.fromisoformat(c["start_date"])
    text = "\n".join([
        "学员编号,签到方式,工号,签到时间",
        f"{e1['id']},人脸,,{start} 08:30",                      # 2 ok (county time)
        f"{e1['id']},qr,,{start}T10:00:00+08:00",               # 3 same day: counts once
        f"{e2['id']},staff,T-01,{start + timedelta(days=1)} 08:00",  # 4 ok
        f"{e2['id']},staff,,{start} 08:00",                     # 5 staff without staff id
        f"{e2['id']},face,,{start - timedelta(days=1)} 08:00",  # 6 before the class
        f"{stranger['id']},face,,{start} 08:00",                # 7 another class's trainee
        f"not-a-uuid,face,,{start} 08:00",                      # 8
        f"{e1['id']},fingerprint,,{start} 09:00",               # 9 unknown method
    ])
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", files=csv_file(text), headers=w.org)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["applied"], body["unchanged"], body["rejected"]) == (2, 1, 5)
    assert [(e["line"], e["code"]) for e in body["row_errors"]] == [
        (5, "validation_failed"), (6, "check_in_out_of_dates"), (7, "enrolment_not_in_class"),
        (8, "validation_failed"), (9, "validation_failed"),
    ]
    assert await count(ts, CheckIn) == 2
    assert [(x["enrolment_id"], x["first_day"]) for x in await outbox_payloads(ts, "training.started.v1")] == [
        (e1["id"], start.isoformat()), (e2["id"], (start + timedelta(days=1)).isoformat())]
    sheets = await outbox_payloads(ts, "province.realname.submitted.v1")
    assert [(x["day"], [(line["enrolment_id"], line["method"]) for line in x["attendance"]])
            for x in sheets if x["record_type"] == "attendance"] == [
        (start.isoformat(), [(e1["id"], "face")]), ((start + timedelta(days=1)).isoformat(), [(e2["id"], "staff")])]


async def test_bulk_completions_xlsx(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, v1), (e2, _), (e3, v3) = [await w.active_trainee(c["id"], i) for i in (1, 2, 3)]
    start = date.fromisoformat(c["start_date"])
    for i in range(4):
        assert (await w.check_in(c["id"], e1["id"], start + timedelta(days=i))).status_code == 201
    assert (await w.check_in(c["id"], e2["id"], start)).status_code == 201
    rows = [
        ["enrolment_id", "passed", "theory_score", "practical_score", "completed_on"],
        [e1["id"], "合格", 86.5, 90, datetime.combine(today(), datetime.min.time())],  # 2 ok
        [e2["id"], "是", 70, 75, None],  # 3 one day of five: cannot pass
        [e3["id"], "不合格", None, None, today().isoformat()],  # 4 ok
        [e1["id"], "合格", 86.5, 90, None],  # 5 already completed (by line 2)
        [e2["id"], "maybe", None, None, None],  # 6
    ]
    r = await ts.client.post(f"/v1/classes/{c['id']}/completions/bulk", files=xlsx_file(rows), headers=w.org)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["applied"], body["rejected"]) == (2, 3)
    assert [(e["line"], e["code"]) for e in body["row_errors"]] == [
        (3, "attendance_below_minimum"), (5, "enrolment_already_completed"), (6, "validation_failed")]
    completed = await outbox_payloads(ts, "training.completed.v1")
    assert [(x["enrolment_id"], x["passed"], x["attended_days"], x["theory_score"]) for x in completed] == [
        (e1["id"], True, 4, "86.50"), (e3["id"], False, 0, None)]
    # P1: the upload's completions on one sheet of the class, in file order (the refused rows are not on it)
    [sheet] = [x for x in await outbox_payloads(ts, "province.realname.submitted.v1") if x["record_type"] == "completion"]
    assert [(line["enrolment_id"], line["person_key"], line["attended_days"], line["passed"])
            for line in sheet["completions"]] == [(e1["id"], v1["person_key"], 4, True), (e3["id"], v3["person_key"], 0, False)]
    assert (sheet["class_id"], sheet["enrolment_id"], sheet["person_key"]) == (c["id"], None, None)
    assert await count(ts, RealnameSubmission, RealnameSubmission.record_type == "completion") == 1


async def test_bulk_follow_ups_csv(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    for e in (e1, e2):
        r = await ts.client.post(f"/v1/classes/{c['id']}/completions", json={"enrolment_id": e["id"], "passed": False},
                                 headers=w.org)
        assert r.status_code == 201
    text = "\n".join([
        "enrolment_id,employer,employer_credit_code,employed_on,contract_months,licence_credit_code,licensed_on",
        f"{e1['id']},临县某家政公司,,{today()},12,,",  # 2 ok
        f"{e2['id']},,,,,,",  # 3 neither
        f"{e2['id']},临县某家政公司,,{today() + timedelta(days=2)},12,,",  # 4 future
    ])
    r = await ts.client.post(f"/v1/classes/{c['id']}/follow-ups/bulk", files=csv_file(text), headers=w.org)
    body = r.json()
    assert (body["applied"], body["rejected"]) == (1, 2)
    assert [(e["line"], e["code"]) for e in body["row_errors"]] == [
        (3, "follow_up_one_kind_per_row"), (4, "employment_in_future")]
    assert [x["enrolment_id"] for x in await outbox_payloads(ts, "training.employment_recorded.v1")] == [e1["id"]]


async def test_bulk_upload_refuses_bad_files_and_other_institutions(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    url = f"/v1/classes/{c['id']}/check-ins/bulk"
    r = await ts.client.post(url, files=csv_file("who,when\nx,y\n"), headers=w.org)
    assert (r.status_code, r.json()["code"]) == (422, "roster_columns_missing")
    r = await ts.client.post(url, files={"file": ("a.pdf", b"%PDF", "application/pdf")}, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (415, "roster_format_unsupported")
    r = await ts.client.post(url, files=csv_file("enrolment_id,method,checked_at\n"),
                             headers=ts.headers("training_org", org="00000000-0000-4000-8000-000000000000"))
    assert (r.status_code, r.json()["code"]) == (404, "class_not_found")
    assert await count(ts, CheckIn) == 0


async def test_bulk_rows_may_name_the_trainee_by_resident_id_number(ts):
    from tests.training.support import resident_id

    w = await World(ts).setup()
    c = await w.open_class()
    e1, _ = await w.active_trainee(c["id"], 1)
    start = date.fromisoformat(c["start_date"])
    number = resident_id(1)
    text = "\n".join([
        "身份证号,签到方式,工号,签到时间",
        f"{number.lower()},扫码,,{start} 08:30",  # 2 ok (lower-case x is fine)
        f"{resident_id(2)},扫码,,{start} 08:30",  # 3 not a trainee of this class
        f"{number[:-1]}{'0' if number[-1] != '0' else '1'},扫码,,{start} 08:30",  # 4 wrong check digit
        f",扫码,,{start} 08:30",  # 5 nobody named
    ])
    r = await ts.client.post(f"/v1/classes/{c['id']}/check-ins/bulk", files=csv_file(text), headers=w.org)
    body = r.json()
    assert (body["applied"], body["rejected"]) == (1, 3)
    assert [(e["line"], e["code"]) for e in body["row_errors"]] == [
        (3, "trainee_not_in_class"), (4, "id_number_check_digit"), (5, "trainee_missing")]
    [event] = await outbox_payloads(ts, "training.started.v1")
    assert (event["enrolment_id"], event["first_day"]) == (e1["id"], start.isoformat())
    [sheet] = [x for x in await outbox_payloads(ts, "province.realname.submitted.v1") if x["record_type"] == "attendance"]
    assert [(line["enrolment_id"], line["method"]) for line in sheet["attendance"]] == [(e1["id"], "qr")]


def check_in_file(enrolment_ids: list[str], days: list[date]) -> dict:
    rows = [f"{e},face,{day} 08:{i % 60:02d}" for day in days for i, e in enumerate(enrolment_ids)]
    return csv_file("\n".join(["enrolment_id,method,checked_at"] + rows))


async def test_a_day_attended_in_one_class_is_refused_in_another(ts):
    """One person in two classes the same week (E4 allows an inclusive and an order voucher): a day is paid per
    class attended, so a day already attended in one class is refused in the other, one by one and in a file."""
    w = await World(ts).setup()
    first, second = await w.open_class(), await w.open_class(name="另一期")
    (in_first, _), (in_second, _) = await w.active_trainee(first["id"], 1), await w.active_trainee(second["id"], 1)
    start = date.fromisoformat(first["start_date"])
    assert (await w.check_in(first["id"], in_first["id"], start)).status_code == 201
    r = await w.check_in(second["id"], in_second["id"], start)
    assert (r.status_code, r.json()["code"]) == (409, "attended_elsewhere_that_day")
    assert r.json()["detail"] == f"the trainee already attended another class on {start}: a day is subsidised once"
    text = "\n".join([
        "学员编号,签到方式,工号,签到时间",
        f"{in_second['id']},face,,{start + timedelta(days=1)} 08:30",  # 2 ok
        f"{in_second['id']},face,,{start} 08:30",                      # 3 attended in the first class
    ])
    r = await ts.client.post(f"/v1/classes/{second['id']}/check-ins/bulk", files=csv_file(text), headers=w.org)
    assert (r.status_code, r.json()["applied"], r.json()["rejected"]) == (201, 1, 1)
    assert [(e["line"], e["code"]) for e in r.json()["row_errors"]] == [(3, "attended_elsewhere_that_day")]
    async with ts.sessionmaker() as session:
        days = (await session.execute(select(CheckIn.class_id, CheckIn.day).order_by(CheckIn.day))).all()
    assert [(str(class_id), day) for class_id, day in days] == [
        (first["id"], start), (second["id"], start + timedelta(days=1))]


async def test_bulk_check_ins_20_trainees_5_days_send_5_sheets_and_start_20_trainings_once(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    trainees = [(await w.active_trainee(c["id"], i))[0]["id"] for i in range(1, 21)]
    start = date.fromisoformat(c["start_date"])
    days = [start + timedelta(days=d) for d in range(5)]
    url = f"/v1/classes/{c['id']}/check-ins/bulk"
    r = await ts.client.post(url, files=check_in_file(trainees, days), headers=w.org)
    assert (r.json()["applied"], r.json()["unchanged"], r.json()["rejected"]) == (100, 0, 0)
    assert await count(ts, CheckIn) == 100
    started = await outbox_payloads(ts, "training.started.v1")
    assert [(s["enrolment_id"], s["first_day"]) for s in started] == [(e, start.isoformat()) for e in trainees]
    sheets = [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == "attendance"]
    assert [(s["day"], [line["enrolment_id"] for line in s["attendance"]]) for s in sheets] == [
        (day.isoformat(), trainees) for day in days]
    assert await count(ts, RealnameSubmission, RealnameSubmission.record_type == "attendance") == 5
    # the same file again: every row is already recorded; nothing is emitted or submitted again
    before = len(await outbox_types(ts))
    r = await ts.client.post(url, files=check_in_file(trainees, days), headers=w.org)
    assert (r.json()["applied"], r.json()["unchanged"], r.json()["rejected"]) == (0, 100, 0)
    assert len(await outbox_types(ts)) == before
    r = await ts.client.get(f"/v1/enrolments/{trainees[0]}", headers=w.org)
    assert r.json()["attended_days"] == 5


async def test_out_of_order_and_partial_uploads_start_each_trainee_once(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    start = date.fromisoformat(c["start_date"])
    url = f"/v1/classes/{c['id']}/check-ins/bulk"
    day = [start + timedelta(days=d) for d in range(5)]
    r = await ts.client.post(url, files=check_in_file([e1["id"]], [day[3], day[1]]), headers=w.org)  # days 4, 2
    assert r.json()["applied"] == 2
    r = await ts.client.post(url, files=check_in_file([e1["id"], e2["id"]], [day[0], day[1]]), headers=w.org)
    assert (r.json()["applied"], r.json()["unchanged"]) == (3, 1)
    started = await outbox_payloads(ts, "training.started.v1")
    assert [(s["enrolment_id"], s["first_day"]) for s in started] == [
        (e1["id"], day[1].isoformat()), (e2["id"], day[0].isoformat())]  # the earliest day known when written
    sheets = [s for s in await outbox_payloads(ts, "province.realname.submitted.v1") if s["record_type"] == "attendance"]
    assert [(s["day"], [line["enrolment_id"] for line in s["attendance"]]) for s in sheets] == [
        (day[1].isoformat(), [e1["id"]]), (day[3].isoformat(), [e1["id"]]),
        (day[0].isoformat(), [e1["id"], e2["id"]]), (day[1].isoformat(), [e2["id"]])]


async def test_concurrent_uploads_of_other_days_start_the_trainee_once(ts):
    import asyncio

    w = await World(ts).setup()
    c = await w.open_class()
    e, _ = await w.active_trainee(c["id"], 1)
    start = date.fromisoformat(c["start_date"])
    url = f"/v1/classes/{c['id']}/check-ins/bulk"
    results = await asyncio.gather(*(
        ts.client.post(url, files=check_in_file([e["id"]], [start + timedelta(days=d)]), headers=w.org)
        for d in range(4)))
    assert [r.json()["applied"] for r in results] == [1, 1, 1, 1]
    assert len(await outbox_payloads(ts, "training.started.v1")) == 1
    assert await count(ts, CheckIn) == 4


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="row locks are PostgreSQL's (SQLite serialises writers)")
async def test_first_check_ins_lock_their_trainees_in_id_order_so_province_marks_cannot_deadlock_them(ts):
    """The province consumer marks enrolments in id order (handlers/province.py). A check-in upload that starts
    trainees must lock them in the same order: it set `started_on` with one UPDATE whose row order was the plan's,
    physical order on a table scan, and deadlocked with the consumer (pipeline benchmark, PostgreSQL log). Here the
    higher id lies first on disk, so a table scan meets it first."""
    w = await World(ts).setup()
    c = await w.open_class()
    (e1, _), (e2, _) = await w.active_trainee(c["id"], 1), await w.active_trainee(c["id"], 2)
    low, high = sorted((uuid.UUID(e1["id"]), uuid.UUID(e2["id"])))
    async with ts.runtime.engine.begin() as setup:
        await setup.execute(text("UPDATE enrolments SET updated_at = updated_at WHERE id = :id"), {"id": low})
        await setup.execute(text("ANALYZE enrolments"))  # a few rows on one page: the planner scans the table
    start = date.fromisoformat(c["start_date"])
    async with ts.runtime.engine.connect() as marks:
        await marks.execute(text("UPDATE enrolments SET province_status = province_status WHERE id = :id"), {"id": low})
        upload = asyncio.create_task(ts.client.post(
            f"/v1/classes/{c['id']}/check-ins/bulk", files=check_in_file([e1["id"], e2["id"]], [start]), headers=w.org))
        await _until_waiting_for_a_row_lock(marks)
        await asyncio.wait_for(marks.execute(
            text("UPDATE enrolments SET province_status = province_status WHERE id = :id"), {"id": high}), timeout=10)
        await marks.commit()
    r = await asyncio.wait_for(upload, timeout=10)
    assert r.status_code == 201, r.text
    assert (r.json()["applied"], r.json()["rejected"]) == (2, 0)
    assert sorted(x["enrolment_id"] for x in await outbox_payloads(ts, "training.started.v1")) == sorted(
        [e1["id"], e2["id"]])


async def _until_waiting_for_a_row_lock(observer) -> None:
    async def someone_waits() -> int:
        await observer.execute(text("SELECT pg_stat_clear_snapshot()"))  # else one snapshot per transaction
        return await observer.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))

    await eventually(someone_waits, timeout=10, interval=0.02)
