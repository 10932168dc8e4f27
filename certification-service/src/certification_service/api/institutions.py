"""Evaluation institution (评价机构) endpoints: bureau staff register them and change their filings and status."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import command
from skillkit.pagination import Page, paginate

from certification_service.adapters.models import EvaluationInstitution
from certification_service.api.schemas import FilingsIn, InstitutionIn, InstitutionOut, InstitutionStatus, InstitutionStatusIn
from certification_service.api.views import institution_view
from certification_service.handlers.institutions import (
    change_status,
    ensure_own,
    filings_of,
    get_institution,
    register_institution,
    replace_filings,
)

router = APIRouter(prefix="/v1/evaluation-institutions", tags=["evaluation institutions 评价机构"])

STAFF = (Role.BUREAU, Role.ADMIN)


@router.post("", status_code=201, response_model=InstitutionOut, summary="Register an evaluation institution with its filings (I2)")
@command
async def register(
    request: Request, session: Session, body: InstitutionIn, principal: Annotated[Principal, require_roles(*STAFF)]
) -> InstitutionOut:
    settings = request.app.state.settings

    institution = await register_institution(session, settings, principal, body)
    return institution_view(institution, await filings_of(session, institution.id), settings)


@router.put("/{institution_id}/filings", response_model=InstitutionOut, summary="Replace the institution's filings (I2)")
@command(status_code=200)
async def put_filings(
    request: Request,
    session: Session,
    institution_id: uuid.UUID,
    body: FilingsIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> InstitutionOut:
    settings = request.app.state.settings

    institution = await replace_filings(session, settings, principal, institution_id, body.filings)
    return institution_view(institution, await filings_of(session, institution.id), settings)


@router.post("/{institution_id}/status", response_model=InstitutionOut, summary="Suspend, revoke or reinstate (I3)")
@command(status_code=200)
async def post_status(
    request: Request,
    session: Session,
    institution_id: uuid.UUID,
    body: InstitutionStatusIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> InstitutionOut:
    settings = request.app.state.settings

    institution = await change_status(session, principal, institution_id, body)
    return institution_view(institution, await filings_of(session, institution.id), settings)


@router.get("", response_model=Page[InstitutionOut], summary="List evaluation institutions")
async def list_institutions(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)],
    status: InstitutionStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[InstitutionOut]:
    stmt = select(EvaluationInstitution)
    if status:
        stmt = stmt.where(EvaluationInstitution.status == status)
    rows, next_cursor = await paginate(
        session, stmt, EvaluationInstitution.created_at, EvaluationInstitution.id, cursor, limit
    )
    settings = request.app.state.settings
    items = [institution_view(i, await filings_of(session, i.id), settings) for i in rows]
    return Page[InstitutionOut](items=items, next_cursor=next_cursor)


@router.get("/{institution_id}", response_model=InstitutionOut, summary="One evaluation institution")
async def get_one(
    request: Request,
    session: Session,
    institution_id: uuid.UUID,
    principal: Annotated[
        Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE, Role.EVALUATION_ORG)
    ],
) -> InstitutionOut:
    ensure_own(principal, institution_id)
    institution = await get_institution(session, institution_id)
    return institution_view(institution, await filings_of(session, institution.id), request.app.state.settings)
