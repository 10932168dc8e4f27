"""Claims: list with filters and cursor paging, the institution's totals, one claim, the bureau's I3
review and recoveries (追回). Claims are paid only through declarations and payment batches (api/payments.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import command
from skillkit.pagination import Page, paginate
from skillkit.problems import not_found

from subsidy_service.adapters.models import Claim, Recovery
from subsidy_service.api.access import STAFF_READERS, claim_scope, may_see_claim
from subsidy_service.api.schemas import AmountByState, ClaimOut, ClaimSummary, RecoveryOut, ReviewIn
from subsidy_service.api.views import STATE_LABELS, claim_view, recovery_view
from subsidy_service.domain.chain import ClaimState
from subsidy_service.handlers.claims import review_claim

router = APIRouter(prefix="/v1", tags=["claims 补贴申领"])

ClaimType = Literal["training", "living_allowance", "evaluation"]
READERS = (*STAFF_READERS, Role.TRAINING_ORG, Role.EVALUATION_ORG, Role.ENTERPRISE)


@router.get("/claims", response_model=Page[ClaimOut], summary="Claims, filtered, oldest first, cursor-paged")
async def list_claims(
    session: Session,
    principal: Annotated[Principal, require_roles(*READERS)],
    state: ClaimState | None = None,
    claim_type: ClaimType | None = None,
    policy_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    institution_id: str | None = None,
    payee_id: str | None = None,
    voucher_id: str | None = None,
    person_key: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ClaimOut]:
    stmt = select(Claim).where(*claim_scope(principal))
    for column, value in (
        (Claim.state, state), (Claim.claim_type, claim_type), (Claim.policy_year, policy_year),
        (Claim.institution_id, institution_id), (Claim.payee_id, payee_id), (Claim.voucher_id, voucher_id),
        (Claim.person_key, person_key),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, Claim.created_at, Claim.id, cursor, limit)
    return Page[ClaimOut](items=[claim_view(c) for c in rows], next_cursor=next_cursor)


@router.get(
    "/claims/summary",
    response_model=ClaimSummary,
    summary="Totals by state and type: an institution's own trainees' claims, or everything for staff",
)
async def claims_summary(
    session: Session,
    principal: Annotated[Principal, require_roles(*READERS)],
    policy_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> ClaimSummary:
    stmt = (
        select(Claim.state, Claim.claim_type, func.count(), func.coalesce(func.sum(Claim.amount), 0))
        .where(*claim_scope(principal))
        .group_by(Claim.state, Claim.claim_type)
        .order_by(Claim.claim_type, Claim.state)
    )
    if policy_year is not None:
        stmt = stmt.where(Claim.policy_year == policy_year)
    totals = [
        AmountByState(state=s, state_label=STATE_LABELS.get(s, s), claim_type=t, count=n,
                      amount=Decimal(str(total)).quantize(Decimal("0.01")))
        for s, t, n, total in (await session.execute(stmt)).all()
    ]
    scope = principal.org_id if principal.role in (Role.TRAINING_ORG, Role.EVALUATION_ORG, Role.ENTERPRISE) else "all"
    return ClaimSummary(scope=scope or "all", totals=totals)


@router.get("/claims/{claim_id}", response_model=ClaimOut, summary="One claim with its lines and state")
async def get_claim(
    session: Session, claim_id: uuid.UUID, principal: Annotated[Principal, require_roles(*READERS)]
) -> ClaimOut:
    claim = await session.get(Claim, claim_id)
    if claim is None or not may_see_claim(principal, claim):
        raise not_found("claim", claim_id)
    return claim_view(claim)


@router.post(
    "/claims/{claim_id}/review",
    response_model=ClaimOut,
    status_code=200,
    summary="I3: the bureau reviews a claim held because its institution was suspended",
)
@command(status_code=200)
async def review(
    request: Request,
    session: Session,
    claim_id: uuid.UUID,
    body: ReviewIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> ClaimOut:
    return claim_view(await review_claim(session, principal, claim_id, body.approved, body.reason))


@router.get("/recoveries", response_model=Page[RecoveryOut], summary="Recoveries (追回) of paid claims, oldest first")
async def list_recoveries(
    session: Session,
    _: Annotated[Principal, require_roles(Role.FINANCE, Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[RecoveryOut]:
    rows, next_cursor = await paginate(session, select(Recovery), Recovery.created_at, Recovery.id, cursor, limit)
    return Page[RecoveryOut](items=[recovery_view(r) for r in rows], next_cursor=next_cursor)


