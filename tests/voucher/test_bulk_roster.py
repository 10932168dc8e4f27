"""Bulk issue from CSV and XLSX rosters: bad rows reported by line, good rows issued."""

from __future__ import annotations

import io
import uuid

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from skillkit.testing.bombs import BOMB_REFUSALS, BOMBS, upload_while_probing_health, xlsx_bomb
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


async def outbox_events(vs) -> list[tuple[str, str, str | None]]:
    """(type, partition key, subject) of every outbox row, in write order."""
    from voucher_service.adapters.models import kit_tables

    async with vs.sessionmaker() as session:
        rows = await session.execute(select(kit_tables.outbox.c.body, kit_tables.outbox.c.partition_key)
                                     .order_by(kit_tables.outbox.c.seq))
        from skillkit.events import parse_event

        return [(e.type, e.partition_key, e.subject) for e in (parse_event(r.body) for r in rows)]


def roster(*lines: str) -> bytes:
    return "\n".join([HEADER, *lines]).encode()


async def test_roster_issues_in_line_order_with_display_codes_and_one_event_pair_per_new_person(vs):
    numbers = [resident_id(seq=f"{400 + i}") for i in range(5)]
    r = await upload(vs, await new_batch(vs), "r.csv",
                     roster(*(f"王{'一二三四五'[i]},{n},1380000000{i},临泉镇,rural_migrant" for i, n in enumerate(numbers))))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["issued"], body["rejected"], body["row_errors"]) == (5, 0, [])
    async with vs.sessionmaker() as session:
        by_worker = dict((w.id, w.name) for w in await session.scalars(select(Worker)))
        person_of = dict((str(v.id), v.person_key) for v in await session.scalars(select(Voucher)))
    assert [by_worker[uuid.UUID(v["worker_id"])] for v in body["vouchers"]] == ["王一", "王二", "王三", "王四", "王五"]
    assert all(v["display_code"].replace("-", "") == v["code"] and v["status"] == "issued" for v in body["vouchers"])
    expected = []
    for v in body["vouchers"]:
        expected += [("worker.registered.v1", person_of[v["id"]], v["worker_id"]),
                     ("voucher.issued.v1", person_of[v["id"]], v["id"])]
    assert await outbox_events(vs) == expected


async def test_E4_a_person_who_already_holds_a_voucher_that_year_is_that_lines_error(vs):
    number = resident_id(seq="501")
    r = await vs.client.post("/v1/workers", headers=vs.headers("worker", sub="app-1"), json={
        "name": "吴三", "id_number": number, "mobile": "13600000001", "township": "临泉镇", "categories": ["rural_migrant"]})
    assert r.status_code == 201
    held = (await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"},
                                 headers=vs.headers("worker", sub="app-1"))).json()
    other = resident_id(seq="502")
    before = await outbox_events(vs)
    r = await upload(vs, await new_batch(vs), "r.csv", roster(
        f"吴三,{number},13600000001,临泉镇,rural_migrant",  # line 2: holds an inclusive voucher (E4)
        f"郑四,{other},13600000002,临泉镇,rural_migrant",  # line 3: issued
    ))
    body = r.json()
    assert (r.status_code, body["issued"], body["rejected"]) == (201, 1, 1)
    year = held["policy_year"]
    assert body["row_errors"] == [{"line": 2, "errors": [
        f"e4_voucher_limit: E4: worker already holds a inclusive voucher for {year} ({held['code']}, id {held['id']}); "
        "one inclusive and one project-or-order voucher per year"]}]
    assert await counts(vs) == (2, 2)
    assert [t for t, *_ in (await outbox_events(vs))[len(before):]] == ["worker.registered.v1", "voucher.issued.v1"]


async def test_E4_an_order_batch_for_a_holder_of_an_inclusive_voucher_issues(vs):
    number = resident_id(seq="503")
    first = await upload(vs, await new_batch(vs), "a.csv", roster(f"吴三,{number},13600000001,临泉镇,rural_migrant"))
    assert first.json()["issued"] == 1
    second = await upload(vs, await new_batch(vs, kind="order"), "b.csv",
                          roster(f"吴三,{number},13600000001,临泉镇,rural_migrant"))
    assert (second.json()["issued"], second.json()["row_errors"]) == (1, [])
    assert await counts(vs) == (1, 2)  # one worker, an inclusive and an order voucher


async def test_same_number_written_differently_is_one_person_reported_as_the_same_person(vs):
    number = resident_id(seq="504")
    # the same number typed with full-width digits (an input method's default): normalised to the same number
    spaced = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    r = await upload(vs, await new_batch(vs), "r.csv", roster(
        f"吴三,{number},13600000001,临泉镇,rural_migrant",
        f"吴三,{spaced},13600000001,临泉镇,rural_migrant",
    ))
    body = r.json()
    assert (body["issued"], body["rejected"]) == (1, 1)
    assert body["row_errors"] == [{"line": 3, "errors": ["same person as line 2"]}]
    assert await counts(vs) == (1, 1)


async def test_one_person_written_differently_in_one_caregiver_roster_gets_one_voucher(vs):
    # Caregiver vouchers are not E4-limited, so only the check within the file stands between one person and
    # two vouchers: it must see through full-width digits and the case of the final X.
    number = resident_id(seq="705")
    assert number.endswith("X")
    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    r = await upload(vs, await new_batch(vs, kind="caregiver"), "r.csv", roster(
        f"吴三,{number},13600000001,临泉镇,monitored_household",
        f"吴三,{full_width},13600000001,临泉镇,monitored_household",
        f"吴三,{number.lower()},13600000001,临泉镇,monitored_household",
    ))
    body = r.json()
    assert (r.status_code, body["issued"], body["rejected"]) == (201, 1, 2)
    assert body["row_errors"] == [{"line": line, "errors": ["same person as line 2"]} for line in (3, 4)]
    assert await counts(vs) == (1, 1)


async def test_E1_uses_the_registered_workers_categories_not_the_rosters(vs):
    number = resident_id(seq="505")
    r = await vs.client.post("/v1/workers", headers=vs.headers("bureau", sub="staff-1"), json={
        "name": "吴三", "id_number": number, "mobile": "13600000001", "township": "临泉镇",
        "categories": ["enterprise_employee"]})
    assert r.status_code == 201
    r = await upload(vs, await new_batch(vs), "r.csv", roster(f"吴三,{number},13600000001,临泉镇,rural_migrant"))
    body = r.json()
    assert body["issued"] == 0
    assert body["row_errors"][0]["errors"][0].startswith("e1_not_eligible: E1: a inclusive voucher needs one of")
    assert await counts(vs) == (1, 0)


async def test_kinds_E4_does_not_limit_issue_again_to_the_same_person(vs):
    number = resident_id(seq="506")
    batch = await new_batch(vs, kind="caregiver")
    for name in ("a.csv", "b.csv"):
        r = await upload(vs, batch, name, roster(f"吴三,{number},13600000001,临泉镇,monitored_household"))
        assert (r.json()["issued"], r.json()["row_errors"]) == (1, [])
    assert await counts(vs) == (1, 2)


async def test_a_roster_with_only_bad_lines_writes_nothing(vs):
    r = await upload(vs, await new_batch(vs), "r.csv", roster(
        f"赵六,{with_wrong_check_digit(resident_id(seq='507'))},13800000002,临泉镇,rural_migrant",
        f"周九,{resident_id(seq='508')},13800000006,城庄镇,enterprise_employee",
    ))
    body = r.json()
    assert (r.status_code, body["issued"], body["vouchers"]) == (201, 0, [])
    assert [(e["line"], e["errors"][0].split(":")[0]) for e in body["row_errors"]] == [
        (2, "id_number_check_digit"), (3, "e1_not_eligible")]
    assert await counts(vs) == (0, 0)
    assert await outbox_events(vs) == []


async def test_a_person_registered_meanwhile_is_409_and_nothing_of_the_upload_is_kept(vs, monkeypatch):
    """The lookup of existing workers misses someone another request registered after it: the workers'
    INSERT skips that person and the whole upload is refused (nothing half-written)."""
    from voucher_service.handlers import bulk

    taken = resident_id(seq="509")
    r = await vs.client.post("/v1/workers", headers=vs.headers("bureau", sub="staff-1"), json={
        "name": "吴三", "id_number": taken, "mobile": "13600000001", "township": "临泉镇",
        "categories": ["rural_migrant"]})
    assert r.status_code == 201

    async def nobody_known(session, indexes):
        return {}

    monkeypatch.setattr(bulk, "_known_workers", nobody_known)
    before = await outbox_events(vs)
    r = await upload(vs, await new_batch(vs), "r.csv", roster(
        f"郑四,{resident_id(seq='510')},13600000002,临泉镇,rural_migrant",
        f"吴三,{taken},13600000001,临泉镇,rural_migrant",
    ))
    assert (r.status_code, r.json()["code"]) == (409, "roster_registered_concurrently")
    assert await counts(vs) == (1, 0)
    assert await outbox_events(vs) == before


async def test_E4_two_simultaneous_uploads_naming_the_same_people_issue_each_voucher_once(vs):
    """Opposite line orders, at the same time: one upload issues both vouchers, the other reports both lines
    as E4 naming them (E4's unique key decides; nothing is issued twice, neither upload fails)."""
    import asyncio

    numbers = [resident_id(seq="520"), resident_id(seq="521")]
    for n, number in enumerate(numbers):
        r = await vs.client.post("/v1/workers", headers=vs.headers("bureau", sub="staff-1"), json={
            "name": "吴三", "id_number": number, "mobile": f"1360000000{n}", "township": "临泉镇",
            "categories": ["rural_migrant"]})
        assert r.status_code == 201
    lines = [f"吴三,{number},1360000000{n},临泉镇,rural_migrant" for n, number in enumerate(numbers)]
    batch = await new_batch(vs)
    first, second = await asyncio.gather(upload(vs, batch, "a.csv", roster(*lines)),
                                         upload(vs, batch, "b.csv", roster(*reversed(lines))))
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    results = sorted([first.json(), second.json()], key=lambda body: body["issued"])
    assert [body["issued"] for body in results] == [0, 2]
    codes = {v["code"] for v in results[1]["vouchers"]}
    assert [e["errors"][0].split("(")[1].split(",")[0] in codes for e in results[0]["row_errors"]] == [True, True]
    assert await counts(vs) == (2, 2)


@pytest.mark.parametrize("bomb", sorted(BOMBS))
async def test_issue16_xlsx_bomb_is_refused_and_healthz_answers_while_it_is_parsed(vs, bomb):
    batch = await new_batch(vs)
    content = xlsx_bomb(HEADER.split(","), rows=BOMBS[bomb])
    assert len(content) < vs.settings.max_body_bytes  # it reaches the parser, as in the issue
    probe = await upload_while_probing_health(vs.client, f"/v1/batches/{batch}/roster",
                                              files={"file": ("roster.xlsx", content)},
                                              headers=vs.headers("bureau", sub="staff-1"))
    assert (probe.response.status_code, probe.response.json()["code"]) == (413, BOMB_REFUSALS[bomb])
    assert probe.response.headers["content-type"] == "application/problem+json"
    # parsed once, in the roster pool's worker thread, never on the event loop (timings: bench/upload_bombs.py)
    assert [thread.startswith("roster-parse") for thread in probe.parse_threads] == [True]
    assert probe.loop_thread not in probe.parse_threads
    if bomb == "rows_under_the_size_bound":  # read row by row up to the limit: /healthz answered while it ran
        assert probe.health_answers_during_parse >= 1
    assert await counts(vs) == (0, 0)
