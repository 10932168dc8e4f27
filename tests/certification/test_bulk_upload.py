from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from certification_service.adapters.models import Candidate
from skillkit.testing.bombs import BOMB_REFUSALS, BOMBS, upload_while_probing_health, xlsx_bomb

from tests.certification.helpers import (
    count,
    new_candidate,
    new_evaluation,
    new_institution,
    org,
    outbox_count,
    outbox_events,
    resident_id,
    staff,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def setup(cs, n: int = 3):
    institution_id = await new_institution(cs)
    evaluation_id = await new_evaluation(cs, institution_id)
    numbers = [resident_id(seq=f"{i:03d}") for i in range(n)]
    for i, number in enumerate(numbers):
        await new_candidate(cs, institution_id, evaluation_id, number, name=["张三", "李四", "王五", "赵六"][i % 4])
    return institution_id, evaluation_id, numbers


async def upload(cs, institution_id, evaluation_id, filename, content, content_type="text/csv"):
    return await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/results/upload",
        files={"file": (filename, content, content_type)},
        headers=org(cs, institution_id),
    )


async def test_csv_applies_good_rows_and_reports_bad_rows_by_line(cs):
    institution_id, evaluation_id, numbers = await setup(cs, 3)
    stranger = resident_id(seq="900")
    bad_check = numbers[2][:-1] + ("0" if numbers[2][-1] != "0" else "1")
    csv_text = (
        "身份证号,理论成绩,实操成绩,是否合格\n"
        f"{numbers[0]},85,90.5,合格\n"  # line 2: good
        f"{numbers[1]},101,80,\n"  # line 3: score out of range
        "\n"  # line 4: blank, skipped
        f"{stranger},70,70,\n"  # line 5: not a candidate
        f"{bad_check},70,70,\n"  # line 6: bad check digit
        f"{numbers[2]},55,70,合格\n"  # line 7: verdict contradicts the scores
        f"{numbers[1]},59,61,\n"  # line 8: good (fail)
        f"{numbers[0]},80,80,\n"  # line 9: already recorded on line 2
    )
    r = await upload(cs, institution_id, evaluation_id, "results.csv", csv_text.encode())
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["applied"], data["rejected"]) == (2, 5)
    assert [(e["line"], e["code"]) for e in data["row_errors"]] == [
        (3, "score_out_of_range"),
        (5, "candidate_not_found"),
        (6, "id_number_check_digit"),
        (7, "passed_inconsistent_with_scores"),
        (9, "result_already_recorded"),
    ]
    assert [(c["theory_score"], c["practical_score"], c["passed"]) for c in data["results"]] == [
        ("85.00", "90.50", True),
        ("59.00", "61.00", False),
    ]
    assert numbers[0] not in r.text
    assert len(await outbox_events(cs, "evaluation.result_recorded.v1")) == 2
    pending = await count(cs, Candidate, Candidate.result_recorded_at.is_(None))
    assert pending == 1


async def test_xlsx_upload_with_english_headers(cs):
    institution_id, evaluation_id, numbers = await setup(cs, 2)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id_number", "theory_score", "practical_score"])
    sheet.append([numbers[0], 72.5, 88])
    sheet.append([numbers[1], "abc", 88])
    buffer = io.BytesIO()
    workbook.save(buffer)
    r = await upload(cs, institution_id, evaluation_id, "results.xlsx", buffer.getvalue(), XLSX)
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["applied"], data["rejected"]) == (1, 1)
    assert data["row_errors"] == [{"line": 3, "code": "score_invalid", "detail": "theory score 'abc' is not a number"}]
    assert (data["results"][0]["theory_score"], data["results"][0]["practical_score"]) == ("72.50", "88.00")


async def test_gb18030_csv_from_chinese_excel_is_read(cs):
    institution_id, evaluation_id, numbers = await setup(cs, 1)
    text = f"身份证号,理论成绩,实操成绩\r\n{numbers[0]},60,60\r\n"
    r = await upload(cs, institution_id, evaluation_id, "成绩.csv", text.encode("gb18030"))
    assert r.status_code == 200 and r.json()["applied"] == 1


async def test_unusable_files_are_refused_whole_and_change_nothing(cs):
    institution_id, evaluation_id, numbers = await setup(cs, 1)
    before = await outbox_count(cs)
    cases = [
        ("a.csv", b"", "text/csv", 422, "roster_empty"),
        ("a.csv", "身份证号,理论成绩\n".encode(), "text/csv", 422, "roster_columns_missing"),
        ("a.csv", "身份证号,理论成绩,实操成绩\n".encode(), "text/csv", 422, "roster_empty"),
        ("a.pdf", b"%PDF-1.4", "application/pdf", 415, "roster_format_unsupported"),
        ("a.xlsx", b"not a zip", XLSX, 422, "roster_unreadable"),
    ]
    for filename, content, content_type, status, code in cases:
        r = await upload(cs, institution_id, evaluation_id, filename, content, content_type)
        assert (r.status_code, r.json()["code"]) == (status, code), filename
    assert await count(cs, Candidate, Candidate.result_recorded_at.is_not(None)) == 0
    assert await outbox_count(cs) == before


async def test_upload_is_organisation_scoped(cs):
    institution_id, evaluation_id, numbers = await setup(cs, 1)
    other = await new_institution(cs, 2, name="吕梁市评价中心")
    text = f"身份证号,理论成绩,实操成绩\n{numbers[0]},80,80\n".encode()
    r = await upload(cs, other, evaluation_id, "r.csv", text)
    assert (r.status_code, r.json()["code"]) == (403, "organisation_forbidden")
    r = await cs.client.post(
        f"/v1/evaluations/{evaluation_id}/results/upload",
        files={"file": ("r.csv", text, "text/csv")},
        headers=staff(cs),
    )
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert await count(cs, Candidate, Candidate.result_recorded_at.is_not(None)) == 0


@pytest.mark.parametrize("bomb", sorted(BOMBS))
async def test_issue16_xlsx_bomb_is_refused_and_healthz_answers_while_it_is_parsed(cs, bomb):
    institution_id, evaluation_id, _ = await setup(cs, 1)
    before = await outbox_count(cs)
    content = xlsx_bomb(["身份证号", "理论成绩", "实操成绩"], rows=BOMBS[bomb])
    probe = await upload_while_probing_health(cs.client, f"/v1/evaluations/{evaluation_id}/results/upload",
                                              files={"file": ("成绩.xlsx", content, XLSX)},
                                              headers=org(cs, institution_id))
    assert (probe.response.status_code, probe.response.json()["code"]) == (413, BOMB_REFUSALS[bomb])
    assert probe.response.headers["content-type"] == "application/problem+json"
    # parsed once, in the roster pool's worker thread, never on the event loop (timings: bench/upload_bombs.py)
    assert [thread.startswith("roster-parse") for thread in probe.parse_threads] == [True]
    assert probe.loop_thread not in probe.parse_threads
    if bomb == "rows_under_the_size_bound":  # read row by row up to the limit: /healthz answered while it ran
        assert probe.health_answers_during_parse >= 1
    assert await count(cs, Candidate, Candidate.result_recorded_at.is_not(None)) == 0
    assert await outbox_count(cs) == before
