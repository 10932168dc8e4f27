"""Bulk candidate registration (POST /v1/evaluations/{id}/candidates/upload): the single endpoint's rules per row."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

from openpyxl import Workbook
from sqlalchemy import select

from certification_service.adapters.models import Candidate
from certification_service.handlers import candidates as candidates_handler
from skillkit.county import local_date
from skillkit.db import utcnow

from tests.certification.helpers import (
    count,
    key_of,
    known_worker,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    outbox_count,
    resident_id,
    staff,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YEAR = local_date(utcnow()).year


async def upload(cs, institution_id, evaluation_id, filename, content, content_type="text/csv", **headers):
    return await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates/upload",
        files={"file": (filename, content, content_type)},
        headers={**org(cs, institution_id), **headers},
    )


def wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


async def candidates_of(cs, evaluation_id) -> list[Candidate]:
    async with cs.sessionmaker() as session:
        rows = await session.scalars(
            select(Candidate).where(Candidate.evaluation_id == uuid.UUID(evaluation_id)).order_by(Candidate.created_at, Candidate.id)
        )
        return list(rows)


async def test_csv_registers_good_rows_and_reports_each_bad_line_with_the_single_endpoint_codes(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)  # skill level 5
    other_evaluation = await new_evaluation(cs, institution_id, level=4)
    known, unknown, student, used_student, adult, already, twice, late = (
        resident_id(seq=f"{i:03d}") for i in range(8)
    )
    await known_worker(cs, known)
    await known_worker(cs, student, categories=["vocational_student"])
    await known_worker(cs, used_student, categories=["vocational_student"])
    await known_worker(cs, adult, categories=["rural_migrant"])
    await new_candidate(cs, institution_id, evaluation_id, already)  # already a candidate of this evaluation
    # E7: this student's free evaluation of this graduation year was used in another evaluation.
    await new_candidate(
        cs, institution_id, other_evaluation, used_student, free_student_evaluation=True, graduation_year=YEAR
    )
    csv_text = (
        "姓名,身份证号,中职免费评价,毕业年份\n"
        f"张三,{known},,\n"  # 2: good, a known worker
        f"李四,{unknown},否,\n"  # 3: good, an unknown person (recorded and flagged)
        f"王五,{wrong_check_digit(known)},,\n"  # 4: check digit
        "\n"  # 5: blank, skipped
        f"赵六,{student},是,{YEAR}\n"  # 6: good, E7 free evaluation
        f"孙七,{used_student},是,{YEAR}\n"  # 7: E7 already used this graduation year
        f"周八,{adult},是,{YEAR}\n"  # 8: E7 not a vocational student
        f"吴九,{already},,\n"  # 9: already a candidate of this evaluation
        f"郑十,{twice},,\n"  # 10: good
        f"郑十,{twice},,\n"  # 11: the same person twice in the file
        f"X,{late},,\n"  # 12: name too short (the body's rule)
        f"钱一,{late},是,\n"  # 13: E7 without graduation year
        f"钱一,{late},也许,\n"  # 14: not a yes/no word
        f"钱一,{late},,20x7\n"  # 15: not a year
        f"钱一,{late},,{YEAR + 9}\n"  # 16: graduation year out of range
    )
    before_events = await outbox_count(cs)
    r = await upload(cs, institution_id, evaluation_id, "考生名单.csv", csv_text.encode())
    assert r.status_code == 201, r.text
    data = r.json()
    assert (data["applied"], data["rejected"]) == (4, 10)
    assert [(e["line"], e["code"]) for e in data["row_errors"]] == [
        (4, "id_number_check_digit"),
        (7, "free_evaluation_already_used"),  # E7
        (8, "free_evaluation_not_vocational_student"),  # E7
        (9, "candidate_already_registered"),
        (11, "candidate_already_registered"),
        (12, "validation_failed"),
        (13, "graduation_year_required"),  # E7
        (14, "free_evaluation_invalid"),
        (15, "graduation_year_invalid"),
        (16, "graduation_year_out_of_range"),
    ]
    assert data["row_errors"][1]["detail"] == (
        f"this student already had the free evaluation of graduation year {YEAR} (E7)"
    )
    assert data["row_errors"][5]["detail"].startswith("name: String should have at least 2 characters")
    assert [
        (c["name"], c["id_number_masked"], c["unknown_person"], c["free_student_evaluation"], c["graduation_year"])
        for c in data["results"]
    ] == [
        ("张三", known[:6] + "********" + known[-4:], False, False, None),
        ("李四", unknown[:6] + "********" + unknown[-4:], True, False, None),
        ("赵六", student[:6] + "********" + student[-4:], False, True, YEAR),
        ("郑十", twice[:6] + "********" + twice[-4:], True, False, None),
    ]
    for number in (known, unknown, student, twice):
        assert number not in r.text
    rows = await candidates_of(cs, evaluation_id)
    # The roster's order is kept (listings and the batch issue order by created_at); the earlier single one first.
    assert [c.person_key for c in rows] == [key_of(cs, n) for n in (already, known, unknown, student, twice)]
    [free] = [c for c in rows if c.person_key == key_of(cs, student)]
    assert (free.free_student_evaluation, free.free_graduation_year, free.registered_by) == (True, YEAR, "evaluator-1")
    assert await count(cs, Candidate) == 6
    assert await outbox_count(cs) == before_events  # registering a candidate emits no event


async def test_unknown_person_flag_clears_when_the_worker_registers_later(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    number = resident_id()
    r = await upload(cs, institution_id, evaluation_id, "c.csv", f"姓名,身份证号\n张三,{number}\n".encode())
    assert r.json()["results"][0]["unknown_person"] is True
    await known_worker(cs, number)
    [candidate] = await candidates_of(cs, evaluation_id)
    assert candidate.unknown_person is False


async def test_xlsx_with_english_headers_and_excel_number_cells(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    student, other = resident_id(seq="001"), resident_id(seq="002")
    await known_worker(cs, student, categories=["vocational_student"])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "id_number", "free_student_evaluation", "graduation_year"])
    sheet.append(["刘小明", student, "true", float(YEAR)])  # Excel keeps numbers as floats: "2026.0"
    sheet.append(["王小红", other, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    r = await upload(cs, institution_id, evaluation_id, "roster.xlsx", buffer.getvalue(), XLSX)
    assert r.status_code == 201, r.text
    assert (r.json()["applied"], r.json()["row_errors"]) == (2, [])
    assert [(c["free_student_evaluation"], c["graduation_year"]) for c in r.json()["results"]] == [
        (True, YEAR),
        (False, None),
    ]


async def test_unusable_files_and_callers_are_refused_whole_and_change_nothing(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    other = await new_institution(cs, 2, name="吕梁市评价中心")
    good = f"姓名,身份证号\n张三,{resident_id()}\n".encode()
    cases = [
        (institution_id, "a.csv", b"", "text/csv", 422, "roster_empty"),
        (institution_id, "a.csv", "姓名,理论成绩\n张三,80\n".encode(), "text/csv", 422, "roster_columns_missing"),
        (institution_id, "a.csv", "姓名,身份证号\n".encode(), "text/csv", 422, "roster_empty"),
        (institution_id, "a.pdf", b"%PDF-1.4", "application/pdf", 415, "roster_format_unsupported"),
        (institution_id, "a.xlsx", b"not a zip", XLSX, 422, "roster_unreadable"),
        (other, "a.csv", good, "text/csv", 403, "organisation_forbidden"),
    ]
    for caller, filename, content, content_type, status, code in cases:
        r = await upload(cs, caller, evaluation_id, filename, content, content_type)
        assert (r.status_code, r.json()["code"]) == (status, code), filename
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates/upload",
        files={"file": ("a.csv", good, "text/csv")},
        headers=staff(cs),
    )
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await cs.client.post(
        f"/v1/evaluation-institutions/{institution_id}/status",
        json={"status": "suspended", "reason": "停业整顿"},
        headers=staff(cs),
    )
    assert r.status_code == 200, r.text
    r = await upload(cs, institution_id, evaluation_id, "a.csv", good)
    assert (r.status_code, r.json()["code"]) == (409, "institution_suspended")  # I3
    assert await count(cs, Candidate) == 0


async def test_idempotency_key_replays_the_report_and_registers_once(cs):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    roster = f"姓名,身份证号\n张三,{resident_id(seq='001')}\n李四,{resident_id(seq='002')}\n".encode()
    first = await upload(cs, institution_id, evaluation_id, "c.csv", roster, **{"Idempotency-Key": "roster-1"})
    again = await upload(cs, institution_id, evaluation_id, "c.csv", roster, **{"Idempotency-Key": "roster-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await count(cs, Candidate) == 2
    other = f"姓名,身份证号\n王五,{resident_id(seq='003')}\n".encode()
    r = await upload(cs, institution_id, evaluation_id, "c.csv", other, **{"Idempotency-Key": "roster-1"})
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    assert await count(cs, Candidate) == 2


async def test_a_row_a_concurrent_registration_slipped_past_is_refused_alone(cs, monkeypatch):
    """The checks read before the INSERT; what a concurrent request registered in between hits the unique
    constraint (ON CONFLICT DO NOTHING) and is that row's 409, the other rows are still registered."""
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    raced, fresh = resident_id(seq="001"), resident_id(seq="002")
    await new_candidate(cs, institution_id, evaluation_id, raced)

    async def nothing_registered_yet(session, evaluation_id, keys):
        return set(), set()

    monkeypatch.setattr(candidates_handler, "_existing", nothing_registered_yet)
    r = await upload(cs, institution_id, evaluation_id, "c.csv", f"姓名,身份证号\n张三,{raced}\n李四,{fresh}\n".encode())
    assert r.status_code == 201, r.text
    assert (r.json()["applied"], [(e["line"], e["code"]) for e in r.json()["row_errors"]]) == (
        1,
        [(2, "candidate_conflict")],
    )
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/candidates",
        json={"name": "张三", "id_number": raced},
        headers=org(cs, institution_id),
    )
    assert (r.status_code, r.json()["code"]) == (409, "candidate_conflict")
    assert await count(cs, Candidate) == 2


async def test_a_roster_longer_than_one_insert_page_is_registered_whole(cs):
    """SQLAlchemy sends the rows in pages of at most 1,000 per INSERT; every row of every page is registered."""
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    births = [(date(2004, 1, 1) + timedelta(days=i)).strftime("%Y%m%d") for i in range(1200)]
    roster = "姓名,身份证号\n" + "".join(f"张三,{resident_id(birth=b)}\n" for b in births)
    r = await upload(cs, institution_id, evaluation_id, "c.csv", roster.encode())
    assert r.status_code == 201, r.text
    assert (r.json()["applied"], r.json()["rejected"]) == (1200, 0)
    assert await count(cs, Candidate) == 1200
