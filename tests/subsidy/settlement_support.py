"""Driving settlement through the REST API as its users would: institutions register accounts and declare, the
bureau verifies, finance allocates, approves, exports and imports the bank's answer."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from decimal import Decimal

from skillkit.contracts.certification import EvaluationInstitutionFiled
from skillkit.contracts.training import InstitutionApproved
from skillkit.county import local_date
from skillkit.db import utcnow

from subsidy_service.adapters.bank_files import answer_rows, to_csv

from tests.subsidy.builders import Clock, fact
from tests.subsidy.helpers import feed

ACCOUNTS = {"I1": "6222020200110000001", "I2": "6222020200110000002", "EV1": "6222020200110000009"}


def current_quarter(now: datetime | None = None) -> tuple[int, int]:
    day = local_date(now or utcnow())
    return day.year, (day.month - 1) // 3 + 1


async def known_institutions(ss, *institutions: str) -> None:
    """The payees' registrations reach the subsidy service (names the bank accounts must carry)."""
    clock = Clock()
    events = []
    for institution in institutions:
        if institution.startswith("EV"):
            events.append(fact(EvaluationInstitutionFiled(
                institution_id=institution, name=f"评价机构{institution}", credit_code="91141124MA0K000001",
                status="active", filings=[]), clock))
        else:
            events.append(fact(InstitutionApproved(
                institution_id=institution, name=f"培训学校{institution}", credit_code="91141124MA0K000002",
                township="临泉镇", kinds=["inclusive"], occupation_codes=["4-10-01-01"]), clock))
    await feed(ss, events)


async def register_account(ss, institution: str, payee_type: str = "institution") -> None:
    role = "evaluation_org" if payee_type == "evaluation_institution" else "training_org"
    name = f"评价机构{institution}" if payee_type == "evaluation_institution" else f"培训学校{institution}"
    r = await ss.client.put(f"/v1/payees/{payee_type}/{institution}/account", headers=ss.headers(role, org=institution),
                            json={"account_name": name, "account_number": ACCOUNTS[institution],
                                  "bank_name": "中国工商银行临县支行", "bank_city": "吕梁"})
    assert r.status_code == 200, r.text


async def allocate(ss, year: int, code: str, amount: str) -> dict:
    r = await ss.client.post("/v1/funds/allocations", headers=ss.headers("finance", sub="fin-1"),
                             json={"year": year, "code": code, "amount": amount, "reference": f"ALLOC-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    return r.json()


async def declare(ss, institution: str, role: str = "training_org") -> dict:
    year, quarter = current_quarter()
    r = await ss.client.post("/v1/declarations", headers=ss.headers(role, org=institution),
                             json={"year": year, "quarter": quarter})
    assert r.status_code == 201, r.text
    d = r.json()
    r = await ss.client.post(f"/v1/declarations/{d['id']}/submit", headers=ss.headers(role, org=institution))
    assert r.status_code == 200, r.text
    return r.json()


async def verify_all(ss, declaration_id: str) -> None:
    bureau = ss.headers("bureau", sub="bureau-1")
    await ss.client.post(f"/v1/declarations/{declaration_id}/approve-unflagged", headers=bureau)
    lines = await all_lines(ss, declaration_id)
    for line in lines:
        if line["decision"] == "pending":
            r = await ss.client.post(f"/v1/declarations/{declaration_id}/lines/{line['id']}/decision",
                                     headers=bureau, json={"approved": True})
            assert r.status_code == 200, r.text
        if line["sampled"]:
            r = await ss.client.post(f"/v1/declarations/{declaration_id}/lines/{line['id']}/evidence-check",
                                     headers=bureau, json={"note": "已核对签到表"})
            assert r.status_code == 200, r.text
    r = await ss.client.post(f"/v1/declarations/{declaration_id}/verify", headers=bureau)
    assert r.status_code == 200, r.text


async def all_lines(ss, declaration_id: str) -> list[dict]:
    lines, cursor = [], ""
    while True:
        r = await ss.client.get(f"/v1/declarations/{declaration_id}/lines?limit=200{cursor}",
                                headers=ss.headers("bureau"))
        assert r.status_code == 200, r.text
        lines += r.json()["items"]
        if not r.json()["next_cursor"]:
            return lines
        cursor = f"&cursor={r.json()['next_cursor']}"


async def approve(ss, *declaration_ids: str):
    return await ss.client.post("/v1/payment-batches", headers=ss.headers("finance", sub="fin-1"),
                                json={"declaration_ids": list(declaration_ids)})


def read_payment_csv(content: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return rows[1], rows[3:]


def bank_answer(reference: str, lines: list[list[str]], statuses: dict[int, tuple[str, str | None]] | None = None
                ) -> bytes:
    """The bank's answer to a payment file: every line paid unless `statuses` says otherwise."""
    statuses = statuses or {}
    return to_csv(answer_rows(reference, [
        (int(seq), account, name, Decimal(amount), *statuses.get(int(seq), ("paid", None)))
        for seq, account, name, amount, *_ in lines
    ]))


async def export(ss, batch_id: str) -> tuple[list[str], list[list[str]]]:
    r = await ss.client.post(f"/v1/payment-batches/{batch_id}/bank-file?format=csv", headers=ss.headers("finance"))
    assert r.status_code == 200, r.text
    return read_payment_csv(r.content)


async def import_result(ss, batch_id: str, content: bytes, kind: str = "bank-result"):
    return await ss.client.post(f"/v1/payment-batches/{batch_id}/{kind}", headers=ss.headers("finance", sub="fin-1"),
                                files={"file": ("answer.csv", content, "text/csv")})


async def pay_through_settlement(ss, institution: str = "I1", payee_type: str = "institution") -> dict:
    """The whole cycle for one payee's eligible claims; every bank line paid. Returns the batch."""
    role = "evaluation_org" if payee_type == "evaluation_institution" else "training_org"
    await known_institutions(ss, institution)
    await register_account(ss, institution, payee_type)
    year, _ = current_quarter()
    for y in range(2023, year + 1):
        await allocate(ss, y, "skills_special", "100000.00")
    d = await declare(ss, institution, role)
    return await verify_approve_pay(ss, d["id"])


async def verify_approve_pay(ss, declaration_id: str) -> dict:
    """The bureau verifies every line, finance approves the batch and the bank pays every line."""
    await verify_all(ss, declaration_id)
    r = await approve(ss, declaration_id)
    assert r.status_code == 201, r.text
    batch = r.json()
    header, lines = await export(ss, batch["id"])
    r = await import_result(ss, batch["id"], bank_answer(header[7], lines))
    assert r.status_code == 200, r.text
    return batch


async def pay_workers_allowances(ss) -> dict:
    """S4: the bureau registers each worker's account and declares the allowances on the workers' behalf."""
    from sqlalchemy import select

    from subsidy_service.adapters.models import Claim, Person

    bureau = ss.headers("bureau", sub="bureau-1")
    async with ss.sessionmaker() as session:
        workers = (await session.execute(select(Person.worker_id, Person.masked_name).where(
            Person.worker_id.in_(select(Claim.payee_id).where(Claim.payee_type == "worker"))))).all()
    for number, (worker_id, masked) in enumerate(workers, start=1):
        r = await ss.client.put(f"/v1/payees/worker/{worker_id}/account", headers=bureau, json={
            "account_name": masked.replace("*", "某"), "account_number": f"62170000000000{number:05d}",
            "bank_name": "临县农村商业银行", "bank_city": "吕梁"})
        assert r.status_code == 200, r.text
    year, quarter = current_quarter()
    for y in range(2023, year + 1):
        await allocate(ss, y, "employment_subsidy", "100000.00")
    r = await ss.client.post("/v1/declarations", headers=bureau, json={"year": year, "quarter": quarter,
                                                                      "declarant_type": "worker"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert (await ss.client.post(f"/v1/declarations/{d['id']}/submit", headers=bureau)).status_code == 200
    return await verify_approve_pay(ss, d["id"])
