"""Verification (验收) by bureau staff: line by line approve or reject with a reason, bulk approval of the unflagged
lines, the evidence sample checked, then the declaration verified."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.contracts.subsidy import DeclarationVerified
from skillkit.problems import Problem, not_found

from subsidy_service.adapters import settlement_rows as rows
from subsidy_service.adapters.outbox import outbox
from subsidy_service.adapters.settlement_models import Declaration, DeclarationLine
from subsidy_service.domain.chain import ClaimState
from subsidy_service.handlers.declarations import declaration_locked, snapshot

lines_t = DeclarationLine.__table__


async def _submitted(session: AsyncSession, declaration_id: uuid.UUID) -> Declaration:
    declaration = await declaration_locked(session, declaration_id)
    if declaration.state != "submitted":
        raise Problem(409, "declaration_not_submitted",
                      f"declaration {declaration_id} is {declaration.state}; only a submitted one is verified")
    return declaration


async def _line(session: AsyncSession, declaration: Declaration, line_id: uuid.UUID) -> DeclarationLine:
    line = await session.get(DeclarationLine, line_id)
    if line is None or line.declaration_id != declaration.id:
        raise not_found("declaration_line", line_id)
    return line


async def decide_line(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID, line_id: uuid.UUID,
                      approved: bool, reason: str | None, now: datetime) -> DeclarationLine:
    declaration = await _submitted(session, declaration_id)
    line = await _line(session, declaration, line_id)
    if line.claim_id is None:
        raise Problem(409, "offset_line_not_decided", "a recovery offset line is not verified line by line")
    if not approved and not (reason and reason.strip()):
        raise Problem(422, "rejection_reason_required", "rejecting a line needs a reason")
    before = {"decision": line.decision, "reason": line.decision_reason}
    await rows.lock_claims(session, [line.claim_id])
    line.decision = "approved" if approved else "rejected"
    line.decision_reason = reason
    line.decided_by = principal.subject
    line.decided_at = now
    target = ClaimState.VERIFIED if approved else ClaimState.REFUSED
    values = {"state": target, "updated_at": now}
    if not approved:
        values.update(reason_code="verification_rejected", reason_zh=f"验收不通过（{reason}）",
                      reason_en=f"rejected at verification ({reason})", quota_slot=None, level_slot=None)
    await rows.set_claim_states(session, [line.claim_id], [ClaimState.DECLARED, ClaimState.VERIFIED,
                                                           ClaimState.REFUSED], values)
    await audit.record(session, principal, "declaration_line.decide", "declaration_line", str(line.id),
                       before=before, after={"decision": line.decision, "reason": reason}, reason=reason)
    return line


async def approve_unflagged(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID,
                            now: datetime) -> int:
    """Approves every pending line without a flag; returns how many."""
    declaration = await _submitted(session, declaration_id)
    pending = [(line_id, claim_id) for line_id, claim_id, flags in (await session.execute(
        select(lines_t.c.id, lines_t.c.claim_id, lines_t.c.flags).where(
            lines_t.c.declaration_id == declaration.id, lines_t.c.decision == "pending",
            lines_t.c.claim_id.is_not(None))
    )).all() if not flags]
    # A line whose claim changed after declaration (voided, or another amount) is flagged when read: never bulk.
    # (The claims are read by id and filtered here: a join on the state just changed misleads the planner.)
    unchanged = await rows.claims_unchanged_since_declaration(session, [claim_id for _, claim_id in pending])
    chosen = [(line_id, claim_id) for line_id, claim_id in pending if claim_id in unchanged]
    claim_ids = [claim_id for _, claim_id in chosen]
    await rows.lock_claims(session, claim_ids)
    for part in rows.chunks([line_id for line_id, _ in chosen]):
        await session.execute(update(lines_t).where(lines_t.c.id.in_(part)).values(
            decision="approved", decided_by=principal.subject, decided_at=now))
    await rows.set_claim_states(session, claim_ids, [ClaimState.DECLARED], {"state": ClaimState.VERIFIED,
                                                                           "updated_at": now})
    await audit.record(session, principal, "declaration.approve_unflagged", "declaration", str(declaration.id),
                       after={"approved_lines": len(chosen)})
    return len(chosen)


async def check_sample(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID, line_id: uuid.UUID,
                       note: str, now: datetime) -> DeclarationLine:
    declaration = await _submitted(session, declaration_id)
    line = await _line(session, declaration, line_id)
    if not line.sampled:
        raise Problem(409, "line_not_sampled", f"line {line_id} is not in the evidence sample")
    line.sample_checked_by = principal.subject
    line.sample_checked_at = now
    line.sample_note = note
    await audit.record(session, principal, "declaration_line.check_evidence", "declaration_line", str(line.id),
                       after={"note": note})
    return line


async def verify_declaration(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID,
                             now: datetime) -> Declaration:
    declaration = await _submitted(session, declaration_id)
    undecided, unchecked = (await session.execute(select(
        func.count().filter(lines_t.c.decision == "pending"),
        func.count().filter(and_(lines_t.c.sampled, lines_t.c.sample_checked_at.is_(None))),
    ).where(lines_t.c.declaration_id == declaration.id))).one()
    if undecided or unchecked:
        raise Problem(409, "verification_incomplete",
                      f"{undecided} line(s) undecided and {unchecked} sampled line(s) not checked")
    before = snapshot(declaration)
    declaration.state = "verified"
    declaration.verified_by = principal.subject
    declaration.verified_at = now
    approved, rejected, amount = (await session.execute(select(
        func.count().filter(lines_t.c.decision == "approved"), func.count().filter(lines_t.c.decision == "rejected"),
        func.coalesce(func.sum(lines_t.c.amount).filter(lines_t.c.decision == "approved"), 0),
    ).where(lines_t.c.declaration_id == declaration.id))).one()
    await outbox.add(session, DeclarationVerified(
        declaration_id=str(declaration.id), declarant_type=declaration.declarant_type,
        declarant_id=declaration.declarant_id, year=declaration.year, quarter=declaration.quarter,
        approved_lines=approved, rejected_lines=rejected, approved_amount=amount, verified_at=now,
    ), partition_key=declaration.declarant_id, subject=str(declaration.id))
    await audit.record(session, principal, "declaration.verify", "declaration", str(declaration.id),
                       before=before, after=snapshot(declaration) | {"approved": approved, "rejected": rejected})
    return declaration


async def check_samples(session: AsyncSession, principal: Principal, declaration_id: uuid.UUID,
                        checks: list[tuple[uuid.UUID, str]], now: datetime) -> int:
    """Records several sampled lines' evidence checks at once (one decision of the bureau, one audit entry)."""
    declaration = await _submitted(session, declaration_id)
    ids = [line_id for line_id, _ in checks]
    found = {line_id: sampled for line_id, sampled in (await session.execute(
        select(lines_t.c.id, lines_t.c.sampled).where(lines_t.c.declaration_id == declaration.id,
                                                       lines_t.c.id.in_(ids)))).all()}
    for line_id in ids:
        if line_id not in found:
            raise not_found("declaration_line", line_id)
        if not found[line_id]:
            raise Problem(409, "line_not_sampled", f"line {line_id} is not in the evidence sample")
    await session.execute(
        update(lines_t).where(lines_t.c.id == bindparam("line")).values(
            sample_checked_by=principal.subject, sample_checked_at=now, sample_note=bindparam("note")),
        [{"line": line_id, "note": note} for line_id, note in checks])
    await audit.record(session, principal, "declaration.check_evidence", "declaration", str(declaration.id),
                       after={"lines": [str(i) for i in ids]})
    return len(ids)
