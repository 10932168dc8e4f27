"""Bulk issue from CSV and XLSX rosters: bad rows reported by line, good rows issued."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from voucher_service.adapters.models import Voucher, Worker

from tests.voucher.ids import resident_id, with_wrong_check_digit

HEADER = "姓名,身份证号,手机号,乡镇,人员类别"


async def counts(vs) -> tuple[int, int]:
    async with vs.sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(Worker)),
                await session.scalar(select(func.count()).select_from(Voucher)))


async def new_batch(vs, kind="inclusive") -> str:
    r = await vs.client.post("/v1/batches", json={"name": "普惠班", "kind": kind, "validity_days": 90},
                             headers=vs.headers("bureau", sub="staff-1"))
    assert r.status_code == 201
    return r.json()["id"]


async def upload(vs, batch_id, name, content):
    return await vs.client.post(f"/v1/batches/{batch_id}/roster", files={"file": (name, content)},
                                headers=vs.headers("bureau", sub="staff-1"))


async def test_csv_roster_reports_each_bad_row_and_issues_the_good_ones(vs):
    good1, good2 = resident_id(seq="101"), resident_id(seq="102")
    lines = [
        HEADER,
        f"王五,{good1},13800000001,临泉镇,rural_migrant",  # line 2 ok
        f"赵六,{with_wrong_check_digit(resident_id(seq='103'))},13800000002,临泉镇,rural_migrant",  # 3 bad id
        f"钱七,{resident_id(seq='104')},123,临泉镇,rural_migrant",  # 4 bad phone
        "",  # blank lines are skipped but keep numbering
        f"孙八,{good2},13800000005,城庄镇,poverty_alleviated；monitored_household",  # 6 ok (Chinese semicolon)
        f"周九,{resident_id(seq='106')},13800000006,城庄镇,enterprise_employee",  # 7 not eligible (E1)
        f"王五,{good1},13800000001,临泉镇,rural_migrant",  # 8 same person as line 2
    ]
    batch = await new_batch(vs)
    r = await upload(vs, batch, "roster.csv", "\n".join(lines).encode())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["issued"], body["rejected"]) == (2, 4)
    errors = {e["line"]: e["errors"][0] for e in body["row_errors"]}
    assert sorted(errors) == [3, 4, 7, 8]
    assert errors[3].startswith("id_number_check_digit")
    assert errors[4].startswith("mobile:")
    assert errors[7].startswith("e1_not_eligible")
    assert errors[8] == "same person as line 2"
    assert all(v["channel"] == "bulk" and v["batch_id"] == batch for v in body["vouchers"])
    assert await counts(vs) == (2, 2)


async def test_xlsx_roster_with_english_headers(vs):
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "id_number", "mobile", "township", "categories"])
    sheet.append(["刘一", resident_id(seq="201"), "13700000001", "安业乡", "urban_unemployed"])
    sheet.append(["陈二", resident_id(seq="202"), "13700000002", "安业乡", "astronaut"])
    buffer = io.BytesIO()
    book.save(buffer)
    r = await upload(vs, await new_batch(vs), "roster.xlsx", buffer.getvalue())
    body = r.json()
    assert (body["issued"], body["rejected"]) == (1, 1)
    assert body["row_errors"][0]["line"] == 3 and body["row_errors"][0]["errors"][0].startswith("categories.0")


async def test_roster_with_missing_columns_or_wrong_format_changes_nothing(vs):
    batch = await new_batch(vs)
    r = await upload(vs, batch, "roster.csv", "姓名,手机号\n王五,13800000001\n".encode())
    assert (r.status_code, r.json()["code"]) == (422, "roster_columns_missing")
    r = await upload(vs, batch, "roster.pdf", b"%PDF-1.4")
    assert (r.status_code, r.json()["code"]) == (415, "roster_format_unsupported")
    r = await upload(vs, batch, "roster.xlsx", b"not a workbook")
    assert (r.status_code, r.json()["code"]) == (422, "roster_unreadable")
    assert await counts(vs) == (0, 0)


async def test_E4_conflict_in_roster_is_reported_per_row(vs):
    number = resident_id(seq="301")
    batch = await new_batch(vs)
    first = await upload(vs, batch, "a.csv", f"{HEADER}\n吴三,{number},13600000001,临泉镇,rural_migrant".encode())
    assert first.json()["issued"] == 1
    second = await upload(vs, batch, "b.csv", f"{HEADER}\n吴三,{number},13600000001,临泉镇,rural_migrant".encode())
    assert second.json()["row_errors"][0]["errors"][0].startswith("e4_voucher_limit")
    assert await counts(vs) == (1, 1)
