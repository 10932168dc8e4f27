"""Quarterly declarations (申报, P4): a payee opens the quarter's declaration, which gathers and freezes every eligible,
undeclared claim of the payee up to the quarter's end, with its evidence and automatic flags; the payee submits it
(or withdraws it while it is open)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.contracts.subsidy import DeclarationSubmitted
from skillkit.problems import Problem, not_found

from subsidy_service.adapters import settlement_rows as rows
from subsidy_service.adapters import policy_tables
from subsidy_service.adapters.models import Recovery
from subsidy_service.adapters.outbox import outbox
from subsidy_service.adapters.settlement_models import Declaration, DeclarationLine
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.settlement import (
    T5_CERTIFICATE_SHARE,
    certificate_rate_below,
    flag,
    money,
    near_deadline,
    quarter_bounds,
    sample,
)

lines_t = DeclarationLine.__table__
T5_KINDS = ("order", "inclusive")  # T5: order-based and inclusive classes


async def declaration_locked(session: AsyncSession, declaration_id: uuid.UUID) -> Declaration:
    stmt = select(Declaration).where(Declaration.id == declaration_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = (await session.scalars(stmt)).first()
    if found is None:
        raise not_found("declaration", declaration_id)
    return found


def snapshot(d: Declaration) -> dict[str, Any]:
    return {"state": d.state, "line_count": d.line_count, "amount": str(d.amount)}


async def open_declaration(session: AsyncSession, principal: Principal, declarant: tuple[str, str], year: int,
                           quarter: int, sample_share: Decimal, now: datetime) -> tuple[Declaration, list[str]]:
    """P4: freezes the declarant's eligible claims up to the quarter's end. Returns the declaration and the order
    classes held back (S2: an order class is declared as one unit, when none of its trainees' claims waits)."""
    start, end = quarter_bounds(year, quarter)
    if now < start:
        raise Problem(422, "quarter_not_started", f"{year} Q{quarter} has not started; a declaration covers a quarter "
                      "that has begun")
    existing = (await session.scalars(select(Declaration.id).where(
        Declaration.declarant_type == declarant[0], Declaration.declarant_id == declarant[1],
        Declaration.year == year, Declaration.quarter == quarter, Declaration.state != "withdrawn"))).first()
    if existing is not None:
        raise Problem(409, "declaration_exists", f"the declaration of {year} Q{quarter} is already open: {existing}")
    declaration = Declaration(
        id=uuid.uuid4(), declarant_type=declarant[0], declarant_id=declarant[1], year=year, quarter=quarter,
        state="open", line_count=0, amount=Decimal("0.00"), flags=[], sample_share=sample_share,
        opened_by=principal.subject, opened_at=now,
    )
    session.add(declaration)
    await session.flush()

    held_back = await rows.unfinished_order_classes(session, declarant)
    claims = [c for c in await rows.declarable(session, declarant, end)
              if not (c.kind == "order" and c.class_id in held_back)]
    lines = await _frozen_lines(session, declaration, claims, now)
    lines += await _offset_lines(session, declaration, declarant, start_no=len(lines) + 1)
    await rows.insert_lines(session, lines)
    await rows.set_claim_states(session, [l["claim_id"] for l in lines if l["claim_id"]], [ClaimState.ELIGIBLE],
                                {"state": ClaimState.DECLARED, "updated_at": now})
    declaration.line_count = len(lines)
    declaration.amount = money(sum((l["amount"] for l in lines), Decimal(0)))
    declaration.flags = await _declaration_flags(session, claims, year)
    await audit.record(session, principal, "declaration.open", "declaration", str(declaration.id),
                       after=snapshot(declaration))
    return declaration, sorted(held_back)


async def _frozen_lines(session: AsyncSession, declaration: Declaration, claims: list[Any], now: datetime
                        ) -> list[dict[str, Any]]:
    completions = await rows.fact_data(session, "completed", (c.enrolment_id for c in claims))
    certificates = await rows.fact_data(session, "certificate", (c.certificate_id for c in claims))
    class_counts = await rows.class_certificate_counts(
        session, (c.class_id for c in claims if c.kind in T5_KINDS and c.claim_type == "training"))
    suspended = await rows.suspended_institutions(
        session, {c.payee_id for c in claims if c.payee_type in ("institution", "evaluation_institution")})
    twice = await rows.other_live_claims(session, claims)
    lines: list[dict[str, Any]] = []
    for number, c in enumerate(claims, start=1):
        completion = completions.get(c.enrolment_id or "", {})
        certificate = certificates.get(c.certificate_id or "", {})
        realname = next((link for link in c.chain_links or [] if link.get("name") == "realname"), None)
        flags = []
        counts = class_counts.get(c.class_id or "")
        if counts and c.kind in T5_KINDS and c.claim_type == "training" and certificate_rate_below(
                counts[1], counts[0], T5_CERTIFICATE_SHARE):
            flags.append(flag("t5_below_50", f"{counts[1]}/{counts[0]}"))
        if realname and realname.get("status") == "broken":
            flags.append(flag("realname_rejected", realname.get("code")))
        elif realname and realname.get("status") == "missing":
            flags.append(flag("realname_no_verdict"))
        if c.payee_id in suspended:
            flags.append(flag("payee_suspended"))
        if c.id in twice:
            flags.append(flag("paid_twice"))
        if near_deadline(now, c.policy_year):
            flags.append(flag("near_deadline"))
        lines.append(dict(
            id=uuid.uuid4(), declaration_id=declaration.id, line_no=number, claim_id=c.id, recovery_id=None,
            active=True, payee_type=c.payee_type, payee_id=c.payee_id or "", person_key=c.person_key,
            claim_type=c.claim_type, kind=c.kind, policy_year=c.policy_year, table_year=c.table_year,
            table_version=c.table_version, amount=c.amount, lines=c.lines, rule_ids=c.rule_ids,
            evidence={
                "voucher_id": c.voucher_id, "class_id": c.class_id, "enrolment_id": c.enrolment_id,
                "institution_id": c.institution_id, "attended_days": completion.get("attended_days"),
                "completed_on": completion.get("completed_on"), "certificate_id": c.certificate_id,
                "certificate_no": certificate.get("certificate_no"),
                "realname": realname.get("status") if realname else None,
                "realname_event_ids": realname.get("event_ids") if realname else [],
            },
            flags=flags, decision="pending", decision_reason=None, decided_by=None, decided_at=None, sampled=False,
            sample_checked_by=None, sample_checked_at=None, sample_note=None,
        ))
    return lines


async def _offset_lines(session: AsyncSession, declaration: Declaration, declarant: tuple[str, str], start_no: int
                        ) -> list[dict[str, Any]]:
    """追回: each open recovery of the declarant not yet offset elsewhere becomes a negative line (settled when the
    transfer that nets it is paid). Approved on opening: the bureau verified the recovery when it was opened."""
    taken = select(DeclarationLine.recovery_id).where(DeclarationLine.active, DeclarationLine.recovery_id.is_not(None))
    stmt = select(Recovery).where(Recovery.state == "open", Recovery.id.not_in(taken)).order_by(Recovery.created_at,
                                                                                               Recovery.id)
    if declarant[0] == "worker":
        stmt = stmt.where(Recovery.payee_type == "worker")
    else:
        stmt = stmt.where(Recovery.payee_type == declarant[0], Recovery.payee_id == declarant[1])
    lines = []
    for number, r in enumerate(await session.scalars(stmt), start=start_no):
        lines.append(dict(
            id=uuid.uuid4(), declaration_id=declaration.id, line_no=number, claim_id=None, recovery_id=r.id,
            active=True, payee_type=r.payee_type, payee_id=r.payee_id or "", person_key=r.person_key,
            claim_type="recovery", kind="recovery", policy_year=declaration.year, table_year=None, table_version=None,
            amount=-r.amount, lines=[{"rule_id": "P4", "text": f"追回抵扣：{r.reason_zh}", "amount": str(-r.amount)}],
            rule_ids=["P4"], evidence={"recovery_id": str(r.id), "claim_id": str(r.claim_id)}, flags=[],
            decision="approved", decision_reason="追回抵扣 recovery offset", decided_by="system",
            decided_at=declaration.opened_at, sampled=False, sample_checked_by=None, sample_checked_at=None,
            sample_note=None,
        ))
    return lines


async def _declaration_flags(session: AsyncSession, claims: list[Any], year: int) -> list[dict[str, Any]]:
    """S1: every inclusive class of the payee in the quarter planned at the cap (普惠制培训不得全部按照顶额安排)."""
    inclusive = sorted({c.class_id for c in claims if c.kind == "inclusive" and c.claim_type == "training" and c.class_id})
    if not inclusive:
        return []
    classes = await rows.fact_data(session, "class", inclusive)
    table = (await policy_tables.policies(await session.connection())).for_year(year)
    if table is None or table.s1.cap is None:
        return []
    at_cap = [
        class_id for class_id in inclusive
        if Decimal((classes.get(class_id) or {}).get("planned_days") or 0) * table.s1.daily_rate >= table.s1.cap
    ]
    if len(at_cap) == len(inclusive):
        return [flag("s1_all_at_cap", f"{len(at_cap)} 个普惠制班 / {len(at_cap)} inclusive classes")]
    return []


async def submit_declaration(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID,
                             now: datetime) -> Declaration:
    declaration = await declaration_locked(session, declaration_id)
    if declaration.state != "open":
        raise Problem(409, "declaration_not_open", f"declaration {declaration_id} is {declaration.state}")
    if declaration.line_count == 0:
        raise Problem(422, "declaration_empty", "the declaration has no line: nothing to submit")
    before = snapshot(declaration)
    line_ids = [str(i) for i in await session.scalars(
        select(DeclarationLine.id).where(DeclarationLine.declaration_id == declaration.id,
                                         DeclarationLine.claim_id.is_not(None)))]
    picked = sample(str(declaration.id), line_ids, declaration.sample_share)
    for part in rows.chunks([uuid.UUID(i) for i in picked]):
        await session.execute(update(lines_t).where(lines_t.c.id.in_(part)).values(sampled=True))
    declaration.state = "submitted"
    declaration.submitted_by = principal.subject
    declaration.submitted_at = now
    await outbox.add(session, DeclarationSubmitted(
        declaration_id=str(declaration.id), declarant_type=declaration.declarant_type,
        declarant_id=declaration.declarant_id, year=declaration.year, quarter=declaration.quarter,
        line_count=declaration.line_count, amount=declaration.amount, submitted_at=now,
    ), partition_key=declaration.declarant_id, subject=str(declaration.id))
    await audit.record(session, principal, "declaration.submit", "declaration", str(declaration.id),
                       before=before, after=snapshot(declaration))
    return declaration


async def withdraw_declaration(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID,
                               now: datetime) -> Declaration:
    """An open declaration may be withdrawn: its claims become eligible again, its lines stay as history."""
    declaration = await declaration_locked(session, declaration_id)
    if declaration.state != "open":
        raise Problem(409, "declaration_not_open", f"declaration {declaration_id} is {declaration.state}")
    before = snapshot(declaration)
    claim_ids = list(await session.scalars(select(DeclarationLine.claim_id).where(
        DeclarationLine.declaration_id == declaration.id, DeclarationLine.claim_id.is_not(None))))
    await rows.lock_claims(session, claim_ids)
    await session.execute(update(lines_t).where(lines_t.c.declaration_id == declaration.id).values(active=False))
    await rows.set_claim_states(session, claim_ids, [ClaimState.DECLARED], {"state": ClaimState.ELIGIBLE, "updated_at": now})
    declaration.state = "withdrawn"
    await audit.record(session, principal, "declaration.withdraw", "declaration", str(declaration.id),
                       before=before, after=snapshot(declaration))
    return declaration
