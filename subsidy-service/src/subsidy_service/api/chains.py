"""The chain of one voucher: each link, the events behind it, and what is missing or broke."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.pagination import Page, paginate
from skillkit.problems import not_found

from subsidy_service.adapters.models import ChainRow, Claim
from subsidy_service.api.access import worker_person_key
from subsidy_service.api.schemas import ChainOut
from subsidy_service.api.views import chain_view

router = APIRouter(prefix="/v1/chains", tags=["chains 兑现链条"])


@router.get(
    "",
    response_model=Page[ChainOut],
    summary="Chains by status (what is missing where), oldest first, cursor-paged",
    description="Training institutions see their trainees' chains, staff all.",
)
async def list_chains(
    session: Session,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)],
    status: Literal["complete", "waiting", "held", "broken"] | None = None,
    institution_id: str | None = None,
    policy_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ChainOut]:
    stmt = select(ChainRow)
    if principal.role == Role.TRAINING_ORG:
        stmt = stmt.where(ChainRow.institution_id == principal.org_id)
    for column, value in ((ChainRow.status, status), (ChainRow.institution_id, institution_id),
                          (ChainRow.policy_year, policy_year)):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, ChainRow.created_at, ChainRow.voucher_id, cursor, limit)
    ids = [r.voucher_id for r in rows]
    claims = list(await session.scalars(
        select(Claim).where(Claim.voucher_id.in_(ids), Claim.claim_type != "evaluation"))) if ids else []
    return Page[ChainOut](
        items=[chain_view(r, [c for c in claims if c.voucher_id == r.voucher_id]) for r in rows],
        next_cursor=next_cursor,
    )


@router.get(
    "/{voucher_id}",
    response_model=ChainOut,
    summary="A voucher's chain: voucher, binding, enrolment, real-name, completion, certificate, class outcome, limits",
    description="Workers see their own vouchers, training institutions their trainees', staff all. "
    "Someone else's voucher answers 404 like an unknown one.",
)
async def get_chain(
    session: Session,
    voucher_id: str,
    principal: Annotated[
        Principal,
        require_roles(Role.WORKER, Role.TRAINING_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE),
    ],
) -> ChainOut:
    chain = await session.get(ChainRow, voucher_id)
    if chain is None:
        raise not_found("chain", voucher_id)
    if principal.role == Role.WORKER:
        if chain.person_key != await worker_person_key(session, principal):
            raise not_found("chain", voucher_id)
    elif principal.role == Role.TRAINING_ORG and chain.institution_id != principal.org_id:
        raise not_found("chain", voucher_id)
    claims = list(await session.scalars(select(Claim).where(Claim.voucher_id == voucher_id, Claim.claim_type != "evaluation")))
    return chain_view(chain, claims)
