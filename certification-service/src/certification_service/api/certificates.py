"""Certificate (持证) endpoints: issue for those who passed, read, revoke."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.pagination import Page, paginate

from certification_service.adapters.models import Certificate
from certification_service.api.evaluations import _org_uuid_or_none
from certification_service.api.schemas import (
    BatchIssueOut,
    CertificateIn,
    CertificateOut,
    RefusedCandidate,
    RevokeIn,
)
from certification_service.api.views import certificate_view
from certification_service.handlers.certificates import (
    get_certificate,
    issue_one,
    issue_for_evaluation,
    revoke_certificate,
)
from certification_service.domain.certificates import normalise_number
from certification_service.handlers.institutions import ensure_own

router = APIRouter(prefix="/v1/certificates", tags=["certificates 证书"])
batch_router = APIRouter(prefix="/v1/evaluations", tags=["certificates 证书"])

READERS = (Role.EVALUATION_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)


@router.post(
    "",
    status_code=201,
    response_model=CertificateOut,
    summary="Issue the certificate of a candidate who passed (I2 filing, I3 standing, once per person/occupation/level)",
)
@command
async def issue(
    request: Request,
    session: Session,
    body: CertificateIn,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> CertificateOut:
    settings = request.app.state.settings

    return certificate_view(await issue_one(session, principal, body.candidate_id), settings)


@batch_router.post(
    "/{evaluation_id}/certificates",
    response_model=BatchIssueOut,
    summary="Issue the certificates of every candidate of the evaluation who passed and has none yet",
)
@command
async def issue_batch(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> Outcome:
    settings = request.app.state.settings

    issued, refused = await issue_for_evaluation(session, principal, evaluation_id)
    return Outcome(
        BatchIssueOut(
            issued=len(issued),
            refused=len(refused),
            certificates=[certificate_view(c, settings) for c in issued],
            refusals=[
                RefusedCandidate(candidate_id=c.id, name=c.name, code=p.code, detail=p.detail) for c, p in refused
            ],
        ),
        200,
    )


@router.get("", response_model=Page[CertificateOut], summary="List certificates (an institution sees those it issued)")
async def list_certificates(
    request: Request,
    session: Session,
    principal: Annotated[Principal, require_roles(*READERS)],
    institution_id: uuid.UUID | None = None,
    status: Literal["valid", "revoked"] | None = None,
    certificate_no: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CertificateOut]:
    stmt = select(Certificate)
    if principal.role == Role.EVALUATION_ORG:
        stmt = stmt.where(Certificate.institution_id == _org_uuid_or_none(principal))
    if institution_id is not None:
        ensure_own(principal, institution_id)
        stmt = stmt.where(Certificate.institution_id == institution_id)
    if status is not None:
        stmt = stmt.where(Certificate.status == status)
    if certificate_no:
        stmt = stmt.where(Certificate.certificate_no == normalise_number(certificate_no))
    rows, next_cursor = await paginate(session, stmt, Certificate.created_at, Certificate.id, cursor, limit)
    settings = request.app.state.settings
    return Page[CertificateOut](items=[certificate_view(c, settings) for c in rows], next_cursor=next_cursor)


@router.get("/{certificate_id}", response_model=CertificateOut, summary="One certificate")
async def get_one(
    request: Request,
    session: Session,
    certificate_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> CertificateOut:
    return certificate_view(await get_certificate(session, principal, certificate_id), request.app.state.settings)


@router.post(
    "/{certificate_id}/revoke",
    response_model=CertificateOut,
    summary="Revoke a certificate (fraud, error); emits certificate.revoked for the subsidy service",
)
@command
async def revoke(
    request: Request,
    session: Session,
    certificate_id: uuid.UUID,
    body: RevokeIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> Outcome:
    settings = request.app.state.settings

    return Outcome(certificate_view(await revoke_certificate(session, principal, certificate_id, body), settings), 200)
