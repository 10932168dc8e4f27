"""Settlement (兑现 part 2) over the real database: P4 declaration → verification → P6 approval over funds → bank file →
bank result, P5 deadline, 追回 offset and refund, P10 audit trail. Money asserted to the fen."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import func, select, update

from subsidy_service.adapters.models import Claim, Recovery
from subsidy_service.adapters.settlement_models import ClaimPayment, Declaration, DeclarationLine, Fund, FundEntry
from subsidy_service.adapters.models import Base
from subsidy_service.handlers import payments as payment_handlers
from subsidy_service.jobs.deadline import run_deadline
from subsidy_service.jobs.policy_seed import seed_policy_tables

from tests.subsidy.builders import Clock, certificate_revoked, chain
from tests.subsidy.helpers import claims, feed, outbox_events
from tests.subsidy.settlement_support import (
    all_lines,
    allocate,
    approve,
    bank_answer,
    current_quarter,
    declare,
    export,
    import_result,
    known_institutions,
    register_account,
    verify_all,
)

YEAR, QUARTER = current_quarter()
D = dict(year=YEAR, start=date(YEAR, 1, 5), completed_on=date(YEAR, 1, 12), cert_on=date(YEAR, 1, 20))


async def three_trainees(ss, institution: str = "I1", days: int = 5, prefix: str = "") -> None:
    clock = Clock()
    for n in (1, 2, 3):
        await feed(ss, chain(person=f"{prefix}P{n}", voucher=f"{prefix}V{n}", enrolment=f"{prefix}E{n}",
                             klass=f"{prefix}C1", institution=institution, certificate=f"{prefix}CERT{n}",
                             days=days, clock=clock, **D))


async def approved_batch_of_three(ss) -> tuple[dict, dict]:
    """I1's three 500.00 trainees declared, verified and approved in a batch over a 5,000.00 skills account."""
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1")
    await register_account(ss, "I1")
    await allocate(ss, YEAR, "skills_special", "5000.00")
    d = await declare(ss, "I1")
    await verify_all(ss, d["id"])
    return d, (await approve(ss, d["id"])).json()


async def funds(ss) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    async with ss.sessionmaker() as session:
        return {f.code: (f.allocated, f.reserved, f.paid) for f in await session.scalars(select(Fund))}


async def test_P4_P6_whole_cycle_pays_each_claim_once_from_funds_in_order(ss):
    await three_trainees(ss)
    await known_institutions(ss, "I1")
    await register_account(ss, "I1")
    # P6: the skills account first, then the employment fund; one claim is split across the two.
    await allocate(ss, YEAR, "employment_subsidy", "1000.00")
    await allocate(ss, YEAR, "skills_special", "800.00")
    d = await declare(ss, "I1")
    assert (d["state"], d["line_count"], d["amount"]) == ("submitted", 3, "1500.00")
    lines = await all_lines(ss, d["id"])
    assert sorted((l["amount"], l["claim_type"], l["evidence"]["attended_days"], l["evidence"]["certificate_no"],
                   l["evidence"]["realname"]) for l in lines) == [
        ("500.00", "training", 5, f"NO-CERT{n}", "ok") for n in (1, 2, 3)]
    assert sum(l["sampled"] for l in lines) == 1  # 5 % of 3 lines, at least one
    assert {(await claims(ss))[k].state for k in ("training:V1:main", "training:V2:main", "training:V3:main")} == {
        "declared"}
    await verify_all(ss, d["id"])
    r = await approve(ss, d["id"])
    assert r.status_code == 201, r.text
    batch = r.json()
    assert (batch["total"], batch["transfer_count"], batch["claim_count"]) == ("1500.00", 1, 3)
    assert [(x["code"], x["amount"]) for x in batch["draws"]] == [("skills_special", "800.00"),
                                                                 ("employment_subsidy", "700.00")]
    assert await funds(ss) == {"skills_special": (Decimal("800.00"), Decimal("800.00"), Decimal("0.00")),
                               "employment_subsidy": (Decimal("1000.00"), Decimal("700.00"), Decimal("0.00"))}
    async with ss.sessionmaker() as session:
        parts = sorted(sorted((d["amount"] for d in p.draws)) for p in await session.scalars(select(ClaimPayment)))
    assert parts == [["200.00", "300.00"], ["500.00"], ["500.00"]]

    header, bank_lines = await export(ss, batch["id"])
    assert header[2:6] == ["1500.00", "1", "CNY", "职业技能培训补贴"]
    assert bank_lines == [["1", "6222020200110000001", "培训学校I1", "1500.00", "Y", "中国工商银行临县支行", "吕梁"]]
    answer = bank_answer(header[7], bank_lines)
    r = await import_result(ss, batch["id"], answer)
    assert (r.status_code, r.json()["paid"], r.json()["paid_amount"], r.json()["replayed"]) == (200, 1, "1500.00", False)
    found = await claims(ss)
    assert [found[f"training:V{n}:main"].state for n in (1, 2, 3)] == ["paid", "paid", "paid"]
    assert await funds(ss) == {"skills_special": (Decimal("800.00"), Decimal("0.00"), Decimal("800.00")),
                               "employment_subsidy": (Decimal("1000.00"), Decimal("0.00"), Decimal("700.00"))}
    paid_events = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_paid.v1"]
    assert sorted(e["amount"] for e in paid_events) == ["500.00", "500.00", "500.00"]

    # the same file again changes nothing
    again = await import_result(ss, batch["id"], answer)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert len([t for t, _ in await outbox_events(ss) if t == "subsidy.claim_paid.v1"]) == 3
    assert (await funds(ss))["skills_special"][2] == Decimal("800.00")

    # 退票: a returned payment reverses the ledger and reopens the claims for the next batch
    returned = bank_answer(header[7], bank_lines, {1: ("returned", "账户已销户")})
    r = await import_result(ss, batch["id"], returned, "bank-returns")
    assert (r.status_code, r.json()["returned"], r.json()["returned_amount"]) == (200, 1, "1500.00")
    found = await claims(ss)
    assert [found[f"training:V{n}:main"].state for n in (1, 2, 3)] == ["verified"] * 3
    assert await funds(ss) == {"skills_special": (Decimal("800.00"), Decimal("0.00"), Decimal("0.00")),
                               "employment_subsidy": (Decimal("1000.00"), Decimal("0.00"), Decimal("0.00"))}
    r = await approve(ss, d["id"])
    assert (r.status_code, r.json()["total"]) == (201, "1500.00")

    ledger = (await ss.client.get(f"/v1/funds/ledger.xlsx?year={YEAR}", headers=ss.headers("auditor"))).content
    sheet = load_workbook(io.BytesIO(ledger), read_only=True).active
    head = (await ss.client.get("/v1/audit/head", headers=ss.headers("auditor"))).json()
    assert next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))[0].startswith(
        f"审计日志链头 audit head: #{head['id']} {head['hash']}")
    kinds = [row[2] for row in sheet.iter_rows(min_row=6, values_only=True)]
    assert kinds == ["下达", "下达", "预留", "预留", "支付", "支付", "退票冲回", "退票冲回", "预留", "预留"]

    verified = (await ss.client.get("/v1/audit/verify", headers=ss.headers("auditor"))).json()
    assert verified["ok"] is True and verified["entries"] >= 10
    actions = [e["action"] for e in (await ss.client.get("/v1/audit/entries?limit=200", headers=ss.headers(
        "auditor"))).json()["items"]]
    assert {"declaration.open", "declaration.submit", "declaration.verify", "payment_batch.approve",
            "payment_batch.export", "payment_batch.import_result", "payment_batch.import_returns",
            "fund.allocate", "payee_account.register"} <= set(actions)


async def test_P6_two_batches_racing_for_the_last_yuan_one_is_refused_with_the_shortfall(ss):
    await three_trainees(ss, "I1")
    await three_trainees(ss, "I2", prefix="B")
    await known_institutions(ss, "I1", "I2")
    await register_account(ss, "I1")
    await register_account(ss, "I2")
    await allocate(ss, YEAR, "skills_special", "2000.00")  # covers one institution's 1,500.00, not both
    first, second = await declare(ss, "I1"), await declare(ss, "I2")
    await verify_all(ss, first["id"])
    await verify_all(ss, second["id"])
    results = await asyncio.gather(approve(ss, first["id"]), approve(ss, second["id"]))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409]
    refused = next(r for r in results if r.status_code == 409).json()
    assert refused["code"] == "funds_insufficient"
    assert "needs 1500.00, available 500.00, short 1000.00" in refused["detail"]
    assert await funds(ss) == {"skills_special": (Decimal("2000.00"), Decimal("1500.00"), Decimal("0.00"))}
    async with ss.sessionmaker() as session:
        states = sorted((await session.scalars(select(Claim.state).where(Claim.claim_type == "training"))).all())
    assert states == ["approved"] * 3 + ["verified"] * 3


async def test_P6_failed_line_releases_its_reservation_and_returns_for_the_next_batch(ss):
    d, batch = await approved_batch_of_three(ss)
    header, lines = await export(ss, batch["id"])
    r = await import_result(ss, batch["id"], bank_answer(header[7], lines, {1: ("failed", "户名不符")}))
    assert (r.status_code, r.json()["failed"], r.json()["failed_amount"]) == (200, 1, "1500.00")
    assert await funds(ss) == {"skills_special": (Decimal("5000.00"), Decimal("0.00"), Decimal("0.00"))}
    assert {c.state for c in (await claims(ss)).values() if c.claim_type == "training"} == {"verified"}
    detail = (await ss.client.get(f"/v1/payment-batches/{batch['id']}", headers=ss.headers("auditor"))).json()
    assert [(t["state"], t["bank_reason"], t["account_number_masked"]) for t in detail["transfers"]] == [
        ("failed", "户名不符", "****0001")]
    r = await approve(ss, d["id"])
    assert (r.status_code, r.json()["total"]) == (201, "1500.00")


async def test_P6_bank_file_with_wrong_totals_or_reference_is_refused_and_changes_nothing(ss):
    d, batch = await approved_batch_of_three(ss)
    header, lines = await export(ss, batch["id"])
    wrong_amount = [[*lines[0][:3], "1400.00", *lines[0][4:]]]
    r = await import_result(ss, batch["id"], bank_answer(header[7], wrong_amount))
    assert (r.status_code, r.json()["code"]) == (422, "bank_file_totals_mismatch")
    r = await import_result(ss, batch["id"], bank_answer("LX-OTHER", lines))
    assert (r.status_code, r.json()["code"]) == (422, "bank_file_reference_mismatch")
    r = await import_result(ss, batch["id"], b"not,a,bank,file\n")
    assert (r.status_code, r.json()["code"]) == (422, "bank_file_invalid")
    assert {c.state for c in (await claims(ss)).values() if c.claim_type == "training"} == {"approved"}


async def test_P4_declaration_refusals_empty_other_payee_and_rejection_reason(ss):
    await known_institutions(ss, "I1", "I2")
    year, quarter = current_quarter()
    r = await ss.client.post("/v1/declarations", headers=ss.headers("training_org", org="I2"),
                             json={"year": year, "quarter": quarter})
    empty = r.json()
    r = await ss.client.post(f"/v1/declarations/{empty['id']}/submit", headers=ss.headers("training_org", org="I2"))
    assert (r.status_code, r.json()["code"]) == (422, "declaration_empty")
    await three_trainees(ss, "I1")
    d = await declare(ss, "I1")
    for path, body in ((f"/v1/declarations/{d['id']}/submit", None), (f"/v1/declarations/{d['id']}/withdraw", None)):
        r = await ss.client.post(path, headers=ss.headers("training_org", org="I2"), json=body)
        assert (r.status_code, r.json()["code"]) == (404, "declaration_not_found")
    r = await ss.client.get(f"/v1/declarations/{d['id']}", headers=ss.headers("training_org", org="I2"))
    assert (r.status_code, r.json()["code"]) == (404, "declaration_not_found")
    r = await ss.client.get(f"/v1/declarations/{d['id']}/lines", headers=ss.headers("evaluation_org", org="I1"))
    assert r.status_code == 404
    again = await ss.client.post("/v1/declarations", headers=ss.headers("training_org", org="I1"),
                                 json={"year": year, "quarter": quarter})
    assert (again.status_code, again.json()["code"]) == (409, "declaration_exists")
    line = (await all_lines(ss, d["id"]))[0]
    r = await ss.client.post(f"/v1/declarations/{d['id']}/lines/{line['id']}/decision",
                             headers=ss.headers("bureau"), json={"approved": False})
    assert (r.status_code, r.json()["code"]) == (422, "rejection_reason_required")
    r = await ss.client.post(f"/v1/declarations/{d['id']}/verify", headers=ss.headers("bureau"))
    assert (r.status_code, r.json()["code"]) == (409, "verification_incomplete")
    r = await ss.client.post(f"/v1/declarations/{d['id']}/lines/{line['id']}/decision",
                             headers=ss.headers("training_org", org="I1"), json={"approved": True})
    assert r.status_code == 403
    r = await ss.client.post(f"/v1/declarations/{d['id']}/lines/{line['id']}/decision",
                             headers=ss.headers("bureau"), json={"approved": False, "reason": "签到表缺页"})
    assert (r.status_code, r.json()["decision"], r.json()["claim_state"]) == (200, "rejected", "refused")
    r = await approve(ss, d["id"])
    assert (r.status_code, r.json()["code"]) == (409, "declaration_not_verified")
    r = await ss.client.post("/v1/payment-batches", headers=ss.headers("auditor"), json={"declaration_ids": [d["id"]]})
    assert r.status_code == 403


async def test_P4_a_void_after_declaration_shows_on_the_frozen_line(ss):
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1")
    d = await declare(ss, "I1")
    await feed(ss, [certificate_revoked("P1", "CERT1", Clock())])
    lines = {l["evidence"]["voucher_id"]: l for l in await all_lines(ss, d["id"])}
    assert (lines["V1"]["amount"], lines["V1"]["claim_state"], lines["V1"]["changed_after_declaration"]) == (
        "500.00", "void", True)
    assert "changed_after_declaration" in [f["code"] for f in lines["V1"]["flags"]]
    assert lines["V2"]["changed_after_declaration"] is False
    await ss.client.post(f"/v1/declarations/{d['id']}/approve-unflagged", headers=ss.headers("bureau"))
    lines = {l["evidence"]["voucher_id"]: l for l in await all_lines(ss, d["id"])}
    assert [lines[v]["decision"] for v in ("V1", "V2", "V3")] == ["pending", "approved", "approved"]


async def test_P4_recovery_is_offset_on_the_next_declaration_and_settled_when_paid(ss):
    d, batch = await approved_batch_of_three(ss)
    header, lines = await export(ss, batch["id"])
    await import_result(ss, batch["id"], bank_answer(header[7], lines))
    await feed(ss, [certificate_revoked("P1", "CERT1", Clock())])  # after payment: 追回 500.00
    # next quarter's trainees of the same institution; the recovery nets off their payment
    clock = Clock()
    for n in (4, 5):
        await feed(ss, chain(person=f"P{n}", voucher=f"V{n}", enrolment=f"E{n}", klass="C2", certificate=f"CERT{n}",
                             clock=clock, **D))
    r = await ss.client.post(f"/v1/declarations/{d['id']}/withdraw", headers=ss.headers("training_org", org="I1"))
    assert (r.status_code, r.json()["code"]) == (409, "declaration_not_open")
    async with ss.sessionmaker() as session:  # the quarter's declaration exists: the next one is next quarter's
        from sqlalchemy import update

        from subsidy_service.adapters.settlement_models import Declaration
        await session.execute(update(Declaration).values(quarter=Declaration.quarter - 1 if QUARTER > 1 else 4,
                                                         year=YEAR if QUARTER > 1 else YEAR - 1))
        await session.commit()
    d2 = await declare(ss, "I1")
    assert (d2["line_count"], d2["amount"]) == (3, "500.00")  # 2 × 500.00 − 500.00
    await verify_all(ss, d2["id"])
    batch2 = (await approve(ss, d2["id"])).json()
    assert batch2["total"] == "500.00"
    header, lines = await export(ss, batch2["id"])
    assert lines[0][3] == "500.00"
    await import_result(ss, batch2["id"], bank_answer(header[7], lines))
    async with ss.sessionmaker() as session:
        recovery = await session.scalar(select(Recovery))
    assert (recovery.state, recovery.settlement, recovery.amount) == ("settled", "offset", Decimal("500.00"))
    # paid 1,500 + 1,000, 500 recovered by the offset
    assert await funds(ss) == {"skills_special": (Decimal("5000.00"), Decimal("0.00"), Decimal("2000.00"))}
    settled = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.recovery_settled.v1"]
    assert [(s["settlement"], s["amount"]) for s in settled] == [("offset", "500.00")]


async def test_P6_two_settlements_crediting_recoveries_to_one_fund_at_once_keep_its_balance_exact(ss, monkeypatch):
    """Two bank results imported at the same moment, each settling a recovery offset (追回) back into the skills fund,
    which neither batch draws on (it was spent; they draw on two other funds, so no draw's lock orders them): the
    credits take the fund's row lock like every other movement, so neither overwrites the other's (the fund paid
    3,000.00 - 2 x 500.00, as its ledger says)."""
    institutions = (("I1", ""), ("I2", "B"))
    for institution, prefix in institutions:
        await three_trainees(ss, institution, prefix=prefix)
    await known_institutions(ss, "I1", "I2")
    for institution, _ in institutions:
        await register_account(ss, institution)
    await allocate(ss, YEAR, "skills_special", "3000.00")  # exactly the two first batches
    for institution, _ in institutions:
        d = await declare(ss, institution)
        await verify_all(ss, d["id"])
        batch = (await approve(ss, d["id"])).json()
        header, lines = await export(ss, batch["id"])
        await import_result(ss, batch["id"], bank_answer(header[7], lines))
    clock = Clock()
    await feed(ss, [certificate_revoked(f"{prefix}P1", f"{prefix}CERT1", clock) for _, prefix in institutions])
    await allocate(ss, YEAR, "employment_subsidy", "1000.00")  # I1's next batch (P6 order) ...
    await allocate(ss, YEAR, "reward_2021", "1000.00")  # ... and I2's
    for institution, prefix in institutions:  # next quarter's trainees; each recovery nets off its payee's payment
        for n in (4, 5):
            await feed(ss, chain(person=f"{prefix}P{n}", voucher=f"{prefix}V{n}", enrolment=f"{prefix}E{n}",
                                 klass=f"{prefix}C2", institution=institution, certificate=f"{prefix}CERT{n}",
                                 clock=clock, **D))
    async with ss.sessionmaker() as session:  # the quarter's declarations exist: the next ones are next quarter's
        await session.execute(update(Declaration).values(quarter=Declaration.quarter - 1 if QUARTER > 1 else 4,
                                                         year=YEAR if QUARTER > 1 else YEAR - 1))
        await session.commit()
    answers = []
    for (institution, _), fund in zip(institutions, ("employment_subsidy", "reward_2021")):
        d2 = await declare(ss, institution)
        assert (d2["line_count"], d2["amount"]) == (3, "500.00")  # 2 x 500.00 - 500.00
        await verify_all(ss, d2["id"])
        batch2 = (await approve(ss, d2["id"])).json()
        assert [d["code"] for d in batch2["draws"]] == [fund]
        header, lines = await export(ss, batch2["id"])
        answers.append((batch2["id"], bank_answer(header[7], lines)))

    # The two imports meet where each works out its recovery's credit, so both are inside their transactions
    # before either credits the fund (without this, the first may commit before the second reads).
    arrived, both = [], asyncio.Event()

    async def meet_then_credit(session, recovery):
        arrived.append(recovery.id)
        if len(arrived) == 2:
            both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both.wait(), 10)
        return await recovery_credit(session, recovery)

    recovery_credit = payment_handlers._recovery_credit
    monkeypatch.setattr(payment_handlers, "_recovery_credit", meet_then_credit)
    results = await asyncio.gather(*(import_result(ss, batch_id, answer) for batch_id, answer in answers))

    assert [(r.status_code, r.json()["paid"]) for r in results] == [(200, 1), (200, 1)]
    async with ss.sessionmaker() as session:
        assert sorted((await session.scalars(select(Recovery.state))).all()) == ["settled", "settled"]
        ledger = dict((await session.execute(
            select(Fund.code, func.sum(FundEntry.amount)).join(Fund, Fund.id == FundEntry.fund_id)
            .where(FundEntry.entry_type == "recover").group_by(Fund.code))).all())
    assert ledger == {"skills_special": Decimal("1000.00")}
    assert await funds(ss) == {"skills_special": (Decimal("3000.00"), Decimal("0.00"), Decimal("2000.00")),
                               "employment_subsidy": (Decimal("1000.00"), Decimal("0.00"), Decimal("1000.00")),
                               "reward_2021": (Decimal("1000.00"), Decimal("0.00"), Decimal("1000.00"))}


async def test_P4_recovery_settled_by_a_refund_finance_records(ss):
    d, batch = await approved_batch_of_three(ss)
    header, lines = await export(ss, batch["id"])
    await import_result(ss, batch["id"], bank_answer(header[7], lines))
    await feed(ss, [certificate_revoked("P2", "CERT2", Clock())])
    async with ss.sessionmaker() as session:
        recovery = await session.scalar(select(Recovery))
    r = await ss.client.post(f"/v1/recoveries/{recovery.id}/refund", headers=ss.headers("finance"),
                             json={"amount": "400.00", "reference": "REF-1"})
    assert (r.status_code, r.json()["code"]) == (422, "refund_amount_mismatch")
    r = await ss.client.post(f"/v1/recoveries/{recovery.id}/refund", headers=ss.headers("finance"),
                             json={"amount": "500.00", "reference": "REF-1"})
    assert (r.status_code, r.json()["state"]) == (200, "settled")
    assert await funds(ss) == {"skills_special": (Decimal("5000.00"), Decimal("0.00"), Decimal("1000.00"))}
    r = await ss.client.post(f"/v1/recoveries/{recovery.id}/refund", headers=ss.headers("finance"),
                             json={"amount": "500.00", "reference": "REF-1"})
    assert (r.status_code, r.json()["code"]) == (409, "recovery_not_open")


async def test_P5_claims_expire_at_the_deadline_second_and_warnings_come_once(ss):
    await feed(ss, chain())  # policy year 2023: deadline 2024-03-31 23:59:59 Beijing = 15:59:59 UTC
    last_second = datetime(2024, 3, 31, 15, 59, 59, tzinfo=timezone.utc)
    async with ss.sessionmaker() as session:
        assert await run_deadline(session, last_second - timedelta(days=30, seconds=1)) == {"expired": 0,
                                                                                             "warnings": 0}
        assert await run_deadline(session, last_second - timedelta(days=29)) == {"expired": 0, "warnings": 2}
        assert await run_deadline(session, last_second - timedelta(days=29)) == {"expired": 0, "warnings": 0}
        assert await run_deadline(session, last_second) == {"expired": 0, "warnings": 2}  # the 7-day ones
        await session.commit()
    assert {c.state for c in (await claims(ss)).values()} == {"eligible"}
    async with ss.sessionmaker() as session:
        assert await run_deadline(session, last_second + timedelta(seconds=1)) == {"expired": 2, "warnings": 0}
        await session.commit()
    found = await claims(ss)
    assert {(c.state, c.reason_code) for c in found.values()} == {("expired", "p5_expired")}
    expired = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.claim_expired.v1"]
    assert sorted(e["amount"] for e in expired) == ["400.00", "500.00"]
    warnings = [json.loads(b)["data"] for t, b in await outbox_events(ss) if t == "subsidy.deadline_warning.v1"]
    assert sorted((w["days_before"], w["declarant_id"], w["amount"]) for w in warnings) == [
        (7, "EV1", "400.00"), (7, "I1", "500.00"), (30, "EV1", "400.00"), (30, "I1", "500.00")]


async def test_P5_deadline_and_ledger_show_instants_in_county_time_in_answers_and_exports(ss):
    """Issue 15: the database keeps UTC; answers and XLSX exports show ISO 8601 in county time (+08:00)."""
    await feed(ss, chain())  # policy year 2023: claims expire at 2024-03-31T16:00:00Z, county midnight
    r = await ss.client.get("/v1/reports/deadline", headers=ss.headers("finance"))
    assert (r.status_code, r.json()) == (200, [
        {"policy_year": 2023, "payee_type": "evaluation_institution", "payee_id": "EV1", "claims": 1,
         "amount": "400.00", "deadline": "2024-04-01T00:00:00+08:00", "days_left": 0},
        {"policy_year": 2023, "payee_type": "institution", "payee_id": "I1", "claims": 1,
         "amount": "500.00", "deadline": "2024-04-01T00:00:00+08:00", "days_left": 0}])

    fund = await allocate(ss, 2026, "skills_special", "800.00")
    async with ss.sessionmaker() as session:
        await session.execute(update(FundEntry).values(created_at=datetime(2026, 12, 6, 5, 5, 0, 400000, tzinfo=timezone.utc)))
        await session.commit()
    r = await ss.client.get(f"/v1/funds/{fund['id']}/ledger", headers=ss.headers("auditor"))
    assert [(e["entry_type"], e["amount"], e["created_at"]) for e in r.json()["items"]] == [
        ("allocation", "800.00", "2026-12-06T13:05:00+08:00")]
    ledger = (await ss.client.get("/v1/funds/ledger.xlsx?year=2026", headers=ss.headers("auditor"))).content
    *_, header, entry = load_workbook(io.BytesIO(ledger), read_only=True).active.iter_rows(values_only=True)
    assert (header[-1], entry[2], entry[-1]) == ("时间", "下达", "2026-12-06T13:05:00+08:00")


async def test_P4_declaration_sheet_exports_with_chinese_headers(ss):
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1")
    d = await declare(ss, "I1")
    r = await ss.client.get(f"/v1/declarations/{d['id']}/sheet.xlsx", headers=ss.headers("training_org", org="I1"))
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[1][:5] == ("序号", "补贴类型", "培训券", "培训班", "实际培训天数")
    assert sorted((row[2], row[4], row[8]) for row in rows[2:]) == [("V1", 5, "500.00"), ("V2", 5, "500.00"),
                                                                    ("V3", 5, "500.00")]


async def test_P4_a_claim_is_on_at_most_one_active_declaration(ss):
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1")
    d = await declare(ss, "I1")
    line = (await all_lines(ss, d["id"]))[0]
    async with ss.sessionmaker() as session:
        from sqlalchemy import insert
        from sqlalchemy.exc import IntegrityError
        row = (await session.execute(select(DeclarationLine.__table__).where(
            DeclarationLine.id == __import__("uuid").UUID(line["id"])))).one()._asdict()
        row.update(id=__import__("uuid").uuid4(), line_no=99)
        try:
            await session.execute(insert(DeclarationLine.__table__), [row])
            raise AssertionError("a second active line of one claim was accepted")
        except IntegrityError as exc:
            # SQLite names the unique index's column, PostgreSQL the index
            assert {"postgresql": "uq_declaration_lines_active_claim",
                    "sqlite": "UNIQUE constraint failed: declaration_lines.claim_id",
                    }[session.bind.dialect.name] in str(exc)
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(DeclarationLine)) == 3


async def _open(ss, institution: str, year: int, quarter: int) -> dict:
    r = await ss.client.post("/v1/declarations", headers=ss.headers("training_org", org=institution),
                             json={"year": year, "quarter": quarter})
    assert r.status_code == 201, r.text
    return r.json()


async def test_T5_S1_I3_P5_flags_cite_their_rules(ss):
    from tests.subsidy.builders import suspended
    from subsidy_service.domain.settlement import deadline

    clock = Clock()
    # T5: one of three trainees certified (the other two still wait for a certificate); S1: planned at the cap
    await feed(ss, chain(person="P1", voucher="V1", enrolment="E1", klass="C1", certificate="CERT1", days=10,
                         planned_days=10, clock=clock, **D))
    for n in (2, 3):
        await feed(ss, chain(person=f"P{n}", voucher=f"V{n}", enrolment=f"E{n}", klass="C1", cert_type=None,
                             days=10, planned_days=10, clock=clock, **D))
    await feed(ss, [suspended("I1", clock)])  # I3: held until the bureau's review
    held = (await claims(ss))["training:V1:main"]
    r = await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": True}, headers=ss.headers("bureau"))
    assert r.json()["state"] == "eligible"
    ss.app.state.clock.move_to(deadline(YEAR) - timedelta(days=10))  # P5: inside the last 30 days
    try:
        d = await _open(ss, "I1", YEAR + 1, 1)
    finally:
        ss.app.state.clock.reset()
    assert [(f["code"], f["rule_id"]) for f in d["flags"]] == [("s1_all_at_cap", "S1")]
    [line] = await all_lines(ss, d["id"])
    assert [(f["code"], f["rule_id"], f["detail"]) for f in line["flags"]] == [
        ("t5_below_50", "T5", "1/3"), ("payee_suspended", "I3", None), ("near_deadline", "P5", None)]
    r = await ss.client.post(f"/v1/declarations/{d['id']}/submit", headers=ss.headers("training_org", org="I1"))
    assert r.status_code == 200
    r = await ss.client.post(f"/v1/declarations/{d['id']}/approve-unflagged", headers=ss.headers("bureau"))
    assert r.json() == {"approved_lines": 0}  # a flagged line is decided one by one


async def test_S2_an_order_class_is_declared_as_one_unit(ss):
    clock = Clock()
    outcome = {"completed": 2, "attended": 2, "employed": 2}
    await feed(ss, chain(person="P1", voucher="V1", enrolment="E1", klass="C9", kind="order", certificate="CERT1",
                         days=12, outcome=outcome, clock=clock, **D))
    await feed(ss, chain(person="P2", voucher="V2", enrolment="E2", klass="C9", kind="order", cert_type=None,
                         days=12, outcome=outcome, clock=clock, **D))
    found = await claims(ss)
    assert (found["training:V1:main"].state, found["training:V2:main"].state) == ("eligible", "waiting")
    d = await _open(ss, "I1", YEAR, QUARTER)
    assert (d["line_count"], d["held_back_order_classes"]) == (0, ["C9"])
    assert (await claims(ss))["training:V1:main"].state == "eligible"


async def test_P10_reviews_and_policy_changes_are_in_the_audit_trail(ss):
    from tests.subsidy.builders import suspended

    clock = Clock()
    await feed(ss, chain(clock=clock, **D) + [suspended("I1", clock)])
    held = (await claims(ss))["training:V1:main"]
    await ss.client.post(f"/v1/claims/{held.id}/review", json={"approved": False, "reason": "材料造假"},
                         headers=ss.headers("bureau", sub="bureau-7"))
    r = await ss.client.put(f"/v1/policy-tables/{YEAR}", headers=ss.headers("bureau", sub="bureau-8"),
                            json={"s1": {"daily_rate": "90"}, "note": "县财政调整"})
    assert (r.status_code, r.json()["rules"]["s1"]["daily_rate"]) == (201, "90")
    entries = (await ss.client.get("/v1/audit/entries", headers=ss.headers("auditor"))).json()["items"]
    assert [(e["actor"], e["action"], e["reason"]) for e in entries] == [
        ("bureau-7", "claim.review", "材料造假"), ("bureau-8", "policy_table.publish", "县财政调整")]
    assert entries[0]["before"]["state"] == "held" and entries[0]["after"]["state"] == "rejected"
    assert (await ss.client.get("/v1/audit/verify", headers=ss.headers("auditor"))).json()["ok"] is True
    r = await ss.client.get("/v1/audit/verify", headers=ss.headers("training_org", org="I1"))
    assert r.status_code == 403


async def test_BOLA_payees_funds_and_batches_are_not_anyones(ss):
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1", "I2")
    await register_account(ss, "I1")
    r = await ss.client.put("/v1/payees/institution/I1/account", headers=ss.headers("training_org", org="I2"),
                            json={"account_name": "培训学校I1", "account_number": "6222000011112222",
                                  "bank_name": "某银行", "bank_city": "吕梁"})
    assert (r.status_code, r.json()["code"]) == (404, "payee_not_found")
    r = await ss.client.put("/v1/payees/institution/I2/account", headers=ss.headers("training_org", org="I2"),
                            json={"account_name": "别人的名字", "account_number": "6222000011112222",
                                  "bank_name": "某银行", "bank_city": "吕梁"})
    assert (r.status_code, r.json()["code"]) == (422, "account_name_mismatch")
    r = await ss.client.get("/v1/payees/institution/I1/accounts", headers=ss.headers("training_org", org="I2"))
    assert r.status_code == 404
    history = (await ss.client.get("/v1/payees/institution/I1/accounts", headers=ss.headers("auditor"))).json()
    assert [(a["version"], a["account_number_masked"], a["changed_role"]) for a in history] == [
        (1, "****0001", "training_org")]
    await allocate(ss, YEAR, "skills_special", "5000.00")
    d = await declare(ss, "I1")
    await verify_all(ss, d["id"])
    batch = (await approve(ss, d["id"])).json()
    for method, path in (("GET", f"/v1/payment-batches/{batch['id']}"), ("GET", "/v1/funds"),
                         ("POST", f"/v1/payment-batches/{batch['id']}/bank-file")):
        r = await ss.client.request(method, path, headers=ss.headers("training_org", org="I1"))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    r = await ss.client.post(f"/v1/payment-batches/{batch['id']}/bank-file", headers=ss.headers("auditor"))
    assert r.status_code == 403  # auditors read, they do not export
    r = await ss.client.post("/v1/funds/allocations", headers=ss.headers("auditor"),
                             json={"year": YEAR, "code": "skills_special", "amount": "1.00", "reference": "x"})
    assert r.status_code == 403
    r = await ss.client.post("/v1/funds/allocations", headers=ss.headers("finance"),
                             json={"year": YEAR, "code": "skills_special", "amount": "-1.00", "reference": "x"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert await funds(ss) == {"skills_special": (Decimal("5000.00"), Decimal("1500.00"), Decimal("0.00"))}


async def test_P6_bank_file_as_xlsx_reads_back_with_the_header_totals(ss):
    d, batch = await approved_batch_of_three(ss)
    r = await ss.client.post(f"/v1/payment-batches/{batch['id']}/bank-file?format=xlsx", headers=ss.headers("finance"))
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("付款账号", "付款户名", "总金额", "总笔数", "币种", "用途", "期望日期", "业务参考号")
    assert rows[1][:6] == ("0512000100000000001", "临县财政局社保资金专户", "1500.00", "1", "CNY", "职业技能培训补贴")
    assert rows[1][7] == batch["reference"]
    assert rows[3] == ("1", "6222020200110000001", "培训学校I1", "1500.00", "Y", "中国工商银行临县支行", "吕梁")
    listed = await ss.client.get(f"/v1/payment-batches/{batch['id']}/payment-list.xlsx", headers=ss.headers("auditor"))
    rows = list(load_workbook(io.BytesIO(listed.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[2][:8] == (1, "培训学校I1", "****0001", "中国工商银行临县支行", "1500.00", "0.00", "1500.00", "待银行回执")


async def test_P4_a_declaration_racing_a_revocation_loses_nothing(ss):
    """A declaration and the consumer's re-evaluation touch the same claims: whichever commits first, the other
    reads it (claims locked in id order on both sides), so the revoked claim ends void and is never declared
    as if valid, and no valid claim is left eligible while it sits on a declaration."""
    for round_ in range(4):
        await ss.wipe(Base.metadata)
        await seed_policy_tables(ss.runtime.sessionmaker)
        await three_trainees(ss, "I1", prefix=f"R{round_}")
        await known_institutions(ss, "I1")
        year, quarter = current_quarter()
        revoke = feed(ss, [certificate_revoked(f"R{round_}P1", f"R{round_}CERT1", Clock())])
        open_ = ss.client.post("/v1/declarations", headers=ss.headers("training_org", org="I1"),
                               json={"year": year, "quarter": quarter})
        pair = (revoke, open_) if round_ % 2 else (open_, revoke)
        await asyncio.gather(*pair)
        found = await claims(ss)
        async with ss.sessionmaker() as session:
            on_lines = set((await session.scalars(select(DeclarationLine.claim_id).where(DeclarationLine.active))).all())
        revoked = found[f"training:R{round_}V1:main"]
        assert revoked.state == "void"
        for n in (2, 3):
            valid = found[f"training:R{round_}V{n}:main"]
            assert (valid.state, valid.id in on_lines) == ("declared", True)


async def test_P4_lines_page_by_number_and_sampled_lines_are_checked_in_bulk(ss):
    await three_trainees(ss, "I1")
    await known_institutions(ss, "I1", "EV1")
    d = await declare(ss, "I1")
    bureau = ss.headers("bureau")
    first = (await ss.client.get(f"/v1/declarations/{d['id']}/lines?limit=2", headers=bureau)).json()
    rest = (await ss.client.get(f"/v1/declarations/{d['id']}/lines?limit=2&cursor={first['next_cursor']}",
                                headers=bureau)).json()
    assert ([l["line_no"] for l in first["items"]], [l["line_no"] for l in rest["items"]], rest["next_cursor"]) == (
        [1, 2], [3], None)
    r = await ss.client.get(f"/v1/declarations/{d['id']}/lines?cursor=abc", headers=bureau)
    assert (r.status_code, r.json()["code"]) == (400, "cursor_invalid")
    sampled = [l for l in first["items"] + rest["items"] if l["sampled"]]
    unsampled = [l for l in first["items"] + rest["items"] if not l["sampled"]]
    r = await ss.client.post(f"/v1/declarations/{d['id']}/evidence-checks", headers=bureau,
                             json={"checks": [{"line_id": unsampled[0]["id"], "note": "x"}]})
    assert (r.status_code, r.json()["code"]) == (409, "line_not_sampled")
    r = await ss.client.post(f"/v1/declarations/{d['id']}/evidence-checks", headers=bureau,
                             json={"checks": [{"line_id": l["id"], "note": "已核对"} for l in sampled]})
    assert (r.status_code, r.json()) == (200, {"checked_lines": 1})
    await ss.client.post(f"/v1/declarations/{d['id']}/approve-unflagged", headers=bureau)
    r = await ss.client.post(f"/v1/declarations/{d['id']}/verify", headers=bureau)
    assert (r.status_code, r.json()["state"]) == (200, "verified")


async def test_I3_an_active_evaluation_institution_is_not_flagged_suspended(ss):
    from tests.subsidy.builders import evaluation_institution

    clock = Clock()
    await feed(ss, chain(clock=clock, **D) + [evaluation_institution("EV1", "approved", clock)])
    await known_institutions(ss, "EV1")
    d = await declare(ss, "EV1", "evaluation_org")
    [line] = await all_lines(ss, d["id"])
    assert (line["claim_type"], line["amount"], line["flags"]) == ("evaluation", "400.00", [])
    await feed(ss, [evaluation_institution("EV1", "suspended", clock)])
    assert (await claims(ss))["evaluation:CERT1:main"].state == "declared"  # frozen: the suspension holds nothing
