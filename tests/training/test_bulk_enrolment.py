"""Bulk enrolment (CSV / XLSX roster): every row gets the single enrolment's checks and codes; the good rows enrol."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sqlalchemy import select

from skillkit.contracts.voucher import VoucherExpired, VoucherRevoked
from skillkit.db import utcnow
from skillkit.testing.bombs import BOMB_REFUSALS, BOMBS, upload_while_probing_health, xlsx_bomb
from training_service.adapters.models import Enrolment, TrainingClass

from tests.training.support import World, count, credit_code, feed, outbox_payloads, resident_id, voucher_code
from tests.training.test_bulk import csv_file, xlsx_file


async def seats(ts, class_id: str) -> int:
    async with ts.sessionmaker() as session:
        return await session.scalar(select(TrainingClass.seats_taken).where(TrainingClass.id == uuid.UUID(class_id)))


def roster(rows: list[list[str]], header: str = "券码,姓名,身份证号") -> dict:
    return csv_file("\n".join([header] + [",".join(r) for r in rows]), "报名.csv")


def masked(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


async def test_bulk_enrolment_enrols_good_rows_and_gives_each_bad_row_the_single_endpoint_code(ts):
    w = await World(ts).setup()
    c = await w.open_class(capacity=3)
    other = await w.open_class(name="另一期")
    n = {i: resident_id(i) for i in range(1, 20)}
    v = {i: await w.voucher(n[i]) for i in (1, 2, 5, 9, 10, 11, 12, 14, 15)}
    v[6] = await w.voucher(n[6], "order")
    v[14] = await w.voucher(n[14])
    second_of_14 = await w.voucher(n[14])
    await feed(ts, VoucherExpired(voucher_id=v[9]["voucher_id"], person_key=v[9]["person_key"], expired_at=utcnow()),
               v[9]["person_key"])
    await feed(ts, VoucherRevoked(voucher_id=v[10]["voucher_id"], person_key=v[10]["person_key"], reason="fraud",
                                  revoked_by="staff-1", revoked_at=utcnow()), v[10]["person_key"])
    assert (await w.enrol(other["id"], n[11], v[11])).status_code == 201  # v11 is used in another class
    assert (await w.enrol(c["id"], n[14], second_of_14)).status_code == 201  # n14 is already in this class
    wrong_check = v[1]["code"][:-1] + ("A" if v[1]["code"][-1] != "A" else "B")
    bad_digit = n[8][:-1] + ("0" if n[8][-1] != "0" else "1")
    rows = [
        [v[1]["code"], "张三", n[1]],                                   # 2 ok
        [f"{v[2]['code'][:6]}-{v[2]['code'][6:]}".lower(), "李四", n[2].lower()],  # 3 ok (dashes, lower case)
        [wrong_check, "王五", n[3]],                                    # 4
        [voucher_code(), "王五", n[4]],                                 # 5 never issued (or not heard of yet)
        [v[5]["code"], "赵六", n[7]],                                   # 6 someone else's voucher
        [v[6]["code"], "钱七", n[6]],                                   # 7 an order voucher, inclusive class
        [v[12]["code"], "孙八", bad_digit],                             # 8
        [v[12]["code"], "X1", n[12]],                                   # 9 not a name
        [v[9]["code"], "周九", n[9]],                                   # 10 expired
        [v[10]["code"], "吴十", n[10]],                                 # 11 revoked
        [v[11]["code"], "郑一", n[11]],                                 # 12 enrolled in another class
        [v[1]["code"], "张三", n[1]],                                   # 13 line 2's voucher again
        [v[14]["code"], "冯二", n[14]],                                 # 14 the trainee is already in the class
        [v[15]["code"], "陈三", n[15]],                                 # 15 no seat left (capacity 3)
        ["", "褚四", n[16]],                                            # 16 no voucher code
    ]
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", files=roster(rows), headers=w.org)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["applied"], body["rejected"]) == (2, 13)
    expected = [
        (4, "voucher_code_invalid"), (5, "voucher_unknown"), (6, "voucher_not_holder"), (7, "voucher_kind_mismatch"),
        (8, "id_number_check_digit"), (9, "validation_failed"), (10, "voucher_expired"), (11, "voucher_revoked"),
        (12, "voucher_already_enrolled"), (13, "voucher_already_enrolled"), (14, "trainee_already_enrolled"),
        (15, "class_full"), (16, "validation_failed"),
    ]
    assert [(e["line"], e["code"]) for e in body["row_errors"]] == expected
    assert [(e["voucher_id"], e["trainee_name"], e["id_number_masked"], e["status"], e["class_id"], e["attended_days"])
            for e in body["enrolments"]] == [
        (v[1]["voucher_id"], "张三", masked(n[1]), "pending", c["id"], 0),
        (v[2]["voucher_id"], "李四", masked(n[2]), "pending", c["id"], 0)]
    enrolled = await outbox_payloads(ts, "training.enrolled.v1")
    assert [(x["enrolment_id"], x["voucher_id"], x["person_key"], x["class_id"]) for x in enrolled[2:]] == [
        (e["id"], v[i]["voucher_id"], v[i]["person_key"], c["id"]) for e, i in zip(body["enrolments"], (1, 2))]
    assert await seats(ts, c["id"]) == 3
    assert await count(ts, Enrolment, Enrolment.class_id == uuid.UUID(c["id"])) == 3
    # what the single endpoint answers to each rejected row now, as if the rows had been posted one by one
    single = {}
    for line, row in enumerate(rows, start=2):
        if line in dict(expected):
            code, name, number = row
            r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments", headers=w.org, json={
                "voucher_code": code or None, "trainee_name": name, "id_number": number})
            single[line] = r.json()["code"]
    assert single == dict(expected)
    assert await seats(ts, c["id"]) == 3


async def test_bulk_enrolment_xlsx_with_the_other_header_aliases(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    numbers = [resident_id(i) for i in (1, 2)]
    vouchers = [await w.voucher(x) for x in numbers]
    rows = [["电子券号", "姓名", "身份证号"]] + [[v["code"], "张三", x] for v, x in zip(vouchers, numbers)]
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", files=xlsx_file(rows), headers=w.org)
    assert r.status_code == 201, r.text
    assert (r.json()["applied"], r.json()["rejected"], r.json()["row_errors"]) == (2, 0, [])
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", headers=w.org,
                             files=csv_file("voucher_code,trainee_name,id_number\n"
                                            f"{vouchers[0]['code']},张三,{numbers[0]}\n"))
    assert [(e["line"], e["code"]) for e in r.json()["row_errors"]] == [(2, "voucher_already_enrolled")]
    assert await seats(ts, c["id"]) == 2


async def test_a_row_refused_as_voucher_unknown_enrols_when_retried_after_the_issue_arrives(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number, code = resident_id(1), voucher_code()
    file = roster([[code, "张三", number]])
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", files=file, headers=w.org)
    assert [(e["line"], e["code"]) for e in r.json()["row_errors"]] == [(2, "voucher_unknown")]
    v = await w.voucher(number, code=code)
    r = await ts.client.post(f"/v1/classes/{c['id']}/enrolments/bulk", files=file, headers=w.org)
    assert (r.json()["applied"], [e["voucher_id"] for e in r.json()["enrolments"]]) == (1, [v["voucher_id"]])


async def test_bad_files_and_classes_that_take_no_enrolment_change_nothing(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    url = f"/v1/classes/{c['id']}/enrolments/bulk"
    good = roster([[v["code"], "张三", number]])
    cases = [
        ({"file": ("报名.pdf", b"%PDF", "application/pdf")}, w.org, 415, "roster_format_unsupported"),
        (csv_file(""), w.org, 422, "roster_empty"),
        (csv_file("券码,姓名,身份证号\n"), w.org, 422, "roster_empty"),
        (csv_file(f"券码,姓名\n{v['code']},张三\n"), w.org, 422, "roster_columns_missing"),
        ({"file": ("报名.xlsx", b"not a workbook", "application/octet-stream")}, w.org, 422, "roster_unreadable"),
        (good, ts.headers("training_org", org=str(uuid.uuid4())), 404, "class_not_found"),
        (good, ts.headers("bureau"), 403, "role_forbidden"),
    ]
    for files, headers, status, code in cases:
        r = await ts.client.post(url, files=files, headers=headers)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    order = await w.open_class(kind="order", name="订单班", order={
        "employer": "太原某家政公司", "credit_code": credit_code("91140100MA0000001"), "positions_promised": 10})
    r = await ts.client.post(f"/v1/classes/{order['id']}/enrolments/bulk", files=good, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "class_not_approved")  # S2
    await ts.client.post(f"/v1/institutions/{w.institution_id}/status",
                         json={"status": "suspended", "reason": "暂停招生"}, headers=w.bureau)
    r = await ts.client.post(url, files=good, headers=w.org)
    assert (r.status_code, r.json()["code"]) == (409, "institution_not_approved")  # I3
    assert await count(ts, Enrolment) == 0
    assert await seats(ts, c["id"]) == 0
    assert await outbox_payloads(ts, "training.enrolled.v1") == []


async def test_bulk_enrolment_retry_with_idempotency_key_enrols_once(ts):
    w = await World(ts).setup()
    c = await w.open_class()
    number = resident_id(1)
    v = await w.voucher(number)
    headers = {**w.org, "Idempotency-Key": "roster-1"}
    url = f"/v1/classes/{c['id']}/enrolments/bulk"
    a = await ts.client.post(url, files=roster([[v["code"], "张三", number]]), headers=headers)
    b = await ts.client.post(url, files=roster([[v["code"], "张三", number]]), headers=headers)
    assert (a.status_code, b.status_code, b.headers["Idempotent-Replayed"]) == (201, 201, "true")
    assert a.json() == b.json() and a.json()["applied"] == 1
    assert await count(ts, Enrolment) == 1 and await seats(ts, c["id"]) == 1


async def test_capacity_race_two_rosters_and_single_enrolments_into_five_seats(ts):
    """Two rosters of 3 and two single enrolments at the same time into 5 seats: exactly 5 enrol, 3 are class_full."""
    w = await World(ts).setup()
    c = await w.open_class(capacity=5)
    numbers = [resident_id(i) for i in range(1, 9)]
    vouchers = [await w.voucher(x) for x in numbers]
    url = f"/v1/classes/{c['id']}/enrolments/bulk"
    rosters = [roster([[v["code"], "张三", x] for v, x in zip(vouchers[k:k + 3], numbers[k:k + 3])]) for k in (0, 3)]
    results = await asyncio.gather(
        *(ts.client.post(url, files=f, headers=w.org) for f in rosters),
        *(w.enrol(c["id"], x, v) for v, x in zip(vouchers[6:], numbers[6:])),
    )
    bulk, singles = [r.json() for r in results[:2]], results[2:]
    enrolled = sum(b["applied"] for b in bulk) + sum(r.status_code == 201 for r in singles)
    full = [e["code"] for b in bulk for e in b["row_errors"]] + [r.json()["code"] for r in singles if r.status_code != 201]
    assert (enrolled, full) == (5, ["class_full"] * 3)
    assert await seats(ts, c["id"]) == 5
    assert await count(ts, Enrolment) == 5
    assert len(await outbox_payloads(ts, "training.enrolled.v1")) == 5


@pytest.mark.parametrize("bomb", sorted(BOMBS))
async def test_issue16_xlsx_bomb_is_refused_and_healthz_answers_while_it_is_parsed(ts, bomb):
    w = await World(ts).setup()
    c = await w.open_class()
    content = xlsx_bomb(["券码", "姓名", "身份证号"], rows=BOMBS[bomb])
    probe = await upload_while_probing_health(ts.client, f"/v1/classes/{c['id']}/enrolments/bulk", headers=w.org,
                                              files={"file": ("报名.xlsx", content)})
    assert (probe.response.status_code, probe.response.json()["code"]) == (413, BOMB_REFUSALS[bomb])
    assert probe.response.headers["content-type"] == "application/problem+json"
    # parsed once, in the roster pool's worker thread, never on the event loop (timings: bench/upload_bombs.py)
    assert [thread.startswith("roster-parse") for thread in probe.parse_threads] == [True]
    assert probe.loop_thread not in probe.parse_threads
    if bomb == "rows_under_the_size_bound":  # read row by row up to the limit: /healthz answered while it ran
        assert probe.health_answers_during_parse >= 1
    assert await count(ts, Enrolment) == 0
    assert await seats(ts, c["id"]) == 0
