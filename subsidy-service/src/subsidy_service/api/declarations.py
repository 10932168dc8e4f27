"""Declarations (申报, P4) and their verification (验收): payees open, read and submit their own; the bureau
verifies; finance and auditors read. Every id-taking endpoint answers 404 for a declaration the caller may not see."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import command
from skillkit.pagination import Page, paginate
from skillkit.problems import Problem, not_found

from subsidy_service.adapters.models import Claim
from subsidy_service.adapters.settlement_models import Declaration, DeclarationLine
from subsidy_service.api.exports import xlsx_response
from subsidy_service.api.settlement_schemas import (
    CheckedOut,
    CountOut,
    DecisionIn,
    DeclarationIn,
    DeclarationOut,
    EvidenceCheckIn,
    EvidenceChecksIn,
    LineOut,
)
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.settlement import WORKER_DECLARANT, flag
from subsidy_service.handlers.declarations import open_declaration, submit_declaration, withdraw_declaration
from subsidy_service.handlers.verification import (
    approve_unflagged,
    check_sample,
    check_samples,
    decide_line,
    verify_declaration,
)

router = APIRouter(prefix="/v1/declarations", tags=["declarations 申报与验收"])
STAFF = (Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)
DECLARANTS = (Role.TRAINING_ORG, Role.EVALUATION_ORG, Role.ENTERPRISE, Role.BUREAU, Role.ADMIN)
READERS = (*STAFF, Role.TRAINING_ORG, Role.EVALUATION_ORG, Role.ENTERPRISE)
VERIFIERS = (Role.BUREAU, Role.ADMIN)
# S5: an enterprise declares its own on-the-job training claims (its token names it: org = enterprise id).
ORG_DECLARANT = {Role.TRAINING_ORG: "institution", Role.EVALUATION_ORG: "evaluation_institution",
                 Role.ENTERPRISE: "enterprise"}
DECLARATION_STATE_LABELS = {"open": "填报中", "submitted": "已提交", "verified": "已验收", "approved": "已审批",
                            "withdrawn": "已撤回"}


def now(request: Request) -> datetime:
    return request.app.state.clock.now()


def own_declarant(principal: Principal) -> tuple[str, str] | None:
    if principal.role in ORG_DECLARANT and principal.org_id:
        return ORG_DECLARANT[principal.role], principal.org_id
    if principal.role in (Role.BUREAU, Role.ADMIN):
        return WORKER_DECLARANT
    return None


def may_see(principal: Principal, d: Declaration) -> bool:
    return principal.role in STAFF or own_declarant(principal) == (d.declarant_type, d.declarant_id)


def may_declare(principal: Principal, d: Declaration) -> bool:
    return own_declarant(principal) == (d.declarant_type, d.declarant_id)


async def visible(session: Session, principal: Principal, declaration_id: uuid.UUID) -> Declaration:
    d = await session.get(Declaration, declaration_id)
    if d is None or not may_see(principal, d):
        raise not_found("declaration", declaration_id)
    return d


def declaration_view(d: Declaration, held_back: list[str] | None = None) -> DeclarationOut:
    return DeclarationOut(
        id=d.id, declarant_type=d.declarant_type, declarant_id=d.declarant_id, year=d.year, quarter=d.quarter,
        state=d.state, state_label=DECLARATION_STATE_LABELS.get(d.state, d.state), line_count=d.line_count,
        amount=d.amount, flags=d.flags, held_back_order_classes=held_back or [], opened_by=d.opened_by,
        opened_at=d.opened_at, submitted_at=d.submitted_at, verified_at=d.verified_at, approved_at=d.approved_at,
    )


def line_view(line: DeclarationLine, claim: Claim | None) -> LineOut:
    changed = claim is not None and (claim.state == ClaimState.VOID or (
        claim.recomputed_amount is not None and claim.recomputed_amount != line.amount))
    flags = list(line.flags) + ([flag("changed_after_declaration", claim.reason_code if claim.state == ClaimState.VOID else
                                      f"{line.amount} → {claim.recomputed_amount}")] if changed else [])
    return LineOut(
        id=line.id, line_no=line.line_no, claim_id=line.claim_id, recovery_id=line.recovery_id,
        payee_type=line.payee_type, payee_id=line.payee_id, person_key=line.person_key, claim_type=line.claim_type,
        kind=line.kind, policy_year=line.policy_year, table_year=line.table_year, table_version=line.table_version,
        amount=line.amount, lines=line.lines, rule_ids=line.rule_ids, evidence=line.evidence, flags=flags,
        decision=line.decision, decision_reason=line.decision_reason, decided_by=line.decided_by,
        sampled=line.sampled, sample_checked=line.sample_checked_at is not None,
        claim_state=claim.state if claim else None, changed_after_declaration=changed,
        current_amount=claim.recomputed_amount if changed and claim and claim.state != ClaimState.VOID else None,
    )


@router.post("", response_model=DeclarationOut, status_code=201,
             summary="Open a quarter's declaration: gathers and freezes every eligible, undeclared claim (P4)")
@command
async def open_(request: Request, session: Session, body: DeclarationIn,
                principal: Annotated[Principal, require_roles(*DECLARANTS)]) -> DeclarationOut:
    declarant = own_declarant(principal)
    if principal.role in (Role.BUREAU, Role.ADMIN) and body.declarant_type != "worker":
        raise Problem(422, "declarant_type_invalid", "the bureau declares only the workers' allowances (S4): "
                      "declarant_type must be 'worker'; institutions declare their own")
    if declarant is None:
        raise Problem(403, "organisation_missing", "the token names no organisation")

    d, held_back = await open_declaration(session, principal, declarant, body.year, body.quarter,
                                          request.app.state.settings.verification_sample_share, now(request))
    return declaration_view(d, held_back)


@router.get("", response_model=Page[DeclarationOut], summary="Declarations (own, or all for staff), oldest first")
async def list_(session: Session, principal: Annotated[Principal, require_roles(*READERS)],
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                state: str | None = None, cursor: str | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[DeclarationOut]:
    stmt = select(Declaration)
    if principal.role not in STAFF:
        declarant = own_declarant(principal) or ("", "")
        stmt = stmt.where(Declaration.declarant_type == declarant[0], Declaration.declarant_id == declarant[1])
    if year is not None:
        stmt = stmt.where(Declaration.year == year)
    if state is not None:
        stmt = stmt.where(Declaration.state == state)
    rows, next_cursor = await paginate(session, stmt, Declaration.opened_at, Declaration.id, cursor, limit)
    return Page[DeclarationOut](items=[declaration_view(d) for d in rows], next_cursor=next_cursor)


@router.get("/{declaration_id}", response_model=DeclarationOut, summary="One declaration")
async def get_(session: Session, declaration_id: uuid.UUID,
               principal: Annotated[Principal, require_roles(*READERS)]) -> DeclarationOut:
    return declaration_view(await visible(session, principal, declaration_id))


@router.get("/{declaration_id}/lines", response_model=Page[LineOut],
            summary="A declaration's frozen lines, with flags and what changed after declaration")
async def lines_(session: Session, declaration_id: uuid.UUID,
                 principal: Annotated[Principal, require_roles(*READERS)],
                 flagged: bool | None = None, sampled: bool | None = None, cursor: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 100) -> Page[LineOut]:
    d = await visible(session, principal, declaration_id)
    stmt = select(DeclarationLine).where(DeclarationLine.declaration_id == d.id)
    if sampled is not None:
        stmt = stmt.where(DeclarationLine.sampled == sampled)
    # Lines page by their number (unique in a declaration): the cursor is the last number seen.
    if cursor:
        if not cursor.isdigit():
            raise Problem(400, "cursor_invalid", "the cursor is not one this endpoint gave")
        stmt = stmt.where(DeclarationLine.line_no > int(cursor))
    rows = list(await session.scalars(stmt.order_by(DeclarationLine.line_no).limit(limit + 1)))
    next_cursor = str(rows[limit - 1].line_no) if len(rows) > limit else None
    rows = rows[:limit]
    claims = {c.id: c for c in await session.scalars(
        select(Claim).where(Claim.id.in_([r.claim_id for r in rows if r.claim_id])))}
    items = [line_view(r, claims.get(r.claim_id)) for r in rows]
    if flagged is not None:
        items = [i for i in items if bool(i.flags) == flagged]
    return Page[LineOut](items=items, next_cursor=next_cursor)


async def _declarant_action(request: Request, session: Session, principal: Principal, declaration_id: uuid.UUID,
                            handler) -> DeclarationOut:
    d = await visible(session, principal, declaration_id)
    if not may_declare(principal, d):
        raise not_found("declaration", declaration_id)  # staff who are not the declarant: no such declaration of theirs
    return declaration_view(await handler(session, principal, d.id, now(request)))


@router.post("/{declaration_id}/submit", response_model=DeclarationOut, summary="Submit the declaration (payee)")
@command(status_code=200)
async def submit(request: Request, session: Session, declaration_id: uuid.UUID,
                 principal: Annotated[Principal, require_roles(*DECLARANTS)]) -> DeclarationOut:
    return await _declarant_action(request, session, principal, declaration_id, submit_declaration)


@router.post("/{declaration_id}/withdraw", response_model=DeclarationOut,
             summary="Withdraw an open declaration: its claims become declarable again")
@command(status_code=200)
async def withdraw(request: Request, session: Session, declaration_id: uuid.UUID,
                   principal: Annotated[Principal, require_roles(*DECLARANTS)]) -> DeclarationOut:
    return await _declarant_action(request, session, principal, declaration_id, withdraw_declaration)


@router.post("/{declaration_id}/lines/{line_id}/decision", response_model=LineOut,
             summary="验收: approve or reject one line (a rejection needs a reason)")
@command(status_code=200)
async def decide(request: Request, session: Session, declaration_id: uuid.UUID, line_id: uuid.UUID, body: DecisionIn,
                 principal: Annotated[Principal, require_roles(*VERIFIERS)]) -> LineOut:
    line = await decide_line(session, principal, declaration_id, line_id, body.approved, body.reason, now(request))
    return line_view(line, await session.get(Claim, line.claim_id))


@router.post("/{declaration_id}/approve-unflagged", response_model=CountOut,
             summary="验收: approve every pending line that carries no flag")
@command(status_code=200)
async def approve_all(request: Request, session: Session, declaration_id: uuid.UUID,
                      principal: Annotated[Principal, require_roles(*VERIFIERS)]) -> CountOut:
    return CountOut(approved_lines=await approve_unflagged(session, principal, declaration_id, now(request)))


@router.post("/{declaration_id}/lines/{line_id}/evidence-check", response_model=LineOut,
             summary="验收: record that a sampled line's evidence was checked")
@command(status_code=200)
async def evidence(request: Request, session: Session, declaration_id: uuid.UUID, line_id: uuid.UUID,
                   body: EvidenceCheckIn, principal: Annotated[Principal, require_roles(*VERIFIERS)]) -> LineOut:
    line = await check_sample(session, principal, declaration_id, line_id, body.note, now(request))
    return line_view(line, await session.get(Claim, line.claim_id))


@router.post("/{declaration_id}/evidence-checks", response_model=CheckedOut,
             summary="验收: record several sampled lines' evidence checks at once")
@command(status_code=200)
async def evidence_many(request: Request, session: Session, declaration_id: uuid.UUID, body: EvidenceChecksIn,
                        principal: Annotated[Principal, require_roles(*VERIFIERS)]) -> CheckedOut:
    return CheckedOut(checked_lines=await check_samples(session, principal, declaration_id,
                                                        [(c.line_id, c.note) for c in body.checks], now(request)))


@router.post("/{declaration_id}/verify", response_model=DeclarationOut,
             summary="验收: the declaration is verified once every line is decided and the sample checked")
@command(status_code=200)
async def verify(request: Request, session: Session, declaration_id: uuid.UUID,
                 principal: Annotated[Principal, require_roles(*VERIFIERS)]) -> DeclarationOut:
    return declaration_view(await verify_declaration(session, principal, declaration_id, now(request)))


SHEET_HEADERS = ["序号", "补贴类型", "培训券", "培训班", "实际培训天数", "证书编号", "省实名制", "政策表", "金额", "规则",
                 "标记", "验收结论", "验收意见", "抽查"]


@router.get("/{declaration_id}/sheet.xlsx", summary="申报表 / 验收结果 (XLSX, Chinese headers, streamed)",
            response_class=Response, responses={200: {"content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
async def sheet(session: Session, declaration_id: uuid.UUID,
                principal: Annotated[Principal, require_roles(*READERS)]) -> Response:
    d = await visible(session, principal, declaration_id)
    decisions = {"pending": "待验收", "approved": "通过", "rejected": "不通过"}

    async def rows():
        result = await session.scalars(select(DeclarationLine).where(DeclarationLine.declaration_id == d.id)
                                      .order_by(DeclarationLine.line_no))
        for line in result:
            e = line.evidence
            yield [line.line_no, line.claim_type, e.get("voucher_id"), e.get("class_id"), e.get("attended_days"),
                   e.get("certificate_no"), e.get("realname"),
                   f"{line.table_year}v{line.table_version}" if line.table_year else None, str(line.amount),
                   " ".join(line.rule_ids), " ".join(f["zh"] for f in line.flags), decisions[line.decision],
                   line.decision_reason, "是" if line.sampled else ""]

    return await xlsx_response(f"declaration-{d.year}Q{d.quarter}-{d.id}.xlsx", "申报表",
                               [f"{d.year}年第{d.quarter}季度 申报 {d.declarant_type}:{d.declarant_id}"
                                f" 状态 {DECLARATION_STATE_LABELS.get(d.state, d.state)} 金额 {d.amount}"],
                               SHEET_HEADERS, rows())
