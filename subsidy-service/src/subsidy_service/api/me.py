"""The worker's own view for the mobile app: my vouchers with their chains, my certificates, my living
allowance awaited and paid."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles

from subsidy_service.adapters.models import ChainRow, Claim, FactRow
from subsidy_service.api.access import worker_person_key
from subsidy_service.api.schemas import AllowanceOut, CertificateOut, ChainOut
from subsidy_service.api.views import chain_view, claim_view
from subsidy_service.domain.chain import ClaimState

router = APIRouter(prefix="/v1/me", tags=["me 我的"])
Worker = Annotated[Principal, require_roles(Role.WORKER)]
NOT_PAYABLE = (ClaimState.REJECTED, ClaimState.VOID)


@router.get("/vouchers", response_model=list[ChainOut], summary="My vouchers, each with its chain and claims")
async def my_vouchers(session: Session, principal: Worker) -> list[ChainOut]:
    key = await worker_person_key(session, principal)
    chains = list(await session.scalars(select(ChainRow).where(ChainRow.person_key == key).order_by(ChainRow.voucher_id)))
    claims = list(await session.scalars(select(Claim).where(Claim.person_key == key, Claim.claim_type != "evaluation")))
    return [chain_view(c, [cl for cl in claims if cl.voucher_id == c.voucher_id]) for c in chains]


@router.get("/certificates", response_model=list[CertificateOut], summary="My certificates and their evaluation claims")
async def my_certificates(session: Session, principal: Worker) -> list[CertificateOut]:
    key = await worker_person_key(session, principal)
    rows = list(await session.scalars(
        select(FactRow).where(FactRow.person_key == key, FactRow.kind.in_(("certificate", "certificate_revoked")))
    ))
    revoked = {r.key for r in rows if r.kind == "certificate_revoked"}
    claims = {c.certificate_id: c for c in await session.scalars(
        select(Claim).where(Claim.person_key == key, Claim.claim_type == "evaluation"))}
    out = []
    for row in sorted((r for r in rows if r.kind == "certificate"), key=lambda r: (r.data["issued_on"], r.key)):
        d = row.data
        claim = claims.get(row.key)
        out.append(CertificateOut(
            certificate_id=row.key, certificate_no=d["certificate_no"], certificate_type=d["certificate_type"],
            occupation_code=d["occupation_code"], level=d.get("level"), issued_on=d["issued_on"],
            institution_id=d["institution_id"], revoked=row.key in revoked,
            evaluation_claim=claim_view(claim) if claim else None,
        ))
    return out


@router.get("/allowances", response_model=AllowanceOut, summary="My living allowance (S4): awaited and paid")
async def my_allowances(session: Session, principal: Worker) -> AllowanceOut:
    key = await worker_person_key(session, principal)
    claims = list(await session.scalars(
        select(Claim).where(Claim.person_key == key, Claim.claim_type == "living_allowance").order_by(Claim.created_at)
    ))
    paid = sum((c.amount for c in claims if c.state == ClaimState.PAID), Decimal("0.00"))
    awaited = sum((c.amount for c in claims if c.state not in NOT_PAYABLE and c.state != ClaimState.PAID), Decimal("0.00"))
    return AllowanceOut(awaited=awaited, paid=paid, claims=[claim_view(c) for c in claims])
