"""The two public catalogues (两目录公开, I1): training institutions and occupations. Institutions are
registered and changed by bureau staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import String, cast, or_, select

from skillkit.app import Session
from skillkit.auth import PUBLIC, Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.contracts.vocab import VoucherKind
from skillkit.pagination import Page, paginate
from skillkit.problems import not_found

from training_service.adapters.models import Institution, Occupation, OccupationLevel
from training_service.api.schemas import (
    InstitutionIn,
    InstitutionOut,
    InstitutionPatch,
    InstitutionStatusIn,
    OccupationOut,
)
from training_service.api.views import institution_view, occupation_view
from training_service.handlers.institutions import change_institution, register_institution, set_institution_status

router = APIRouter(prefix="/v1", tags=["catalogues 两目录"])

STAFF = (Role.BUREAU, Role.ADMIN)


@router.get("/occupations", response_model=Page[OccupationOut], summary="Occupation catalogue (public), with search")
async def list_occupations(
    session: Session,
    _: Annotated[None, require_roles(PUBLIC)],
    q: Annotated[str | None, Query(max_length=50, description="code prefix or part of the name")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[OccupationOut]:
    stmt = select(Occupation)
    if q:
        stmt = stmt.where(or_(Occupation.code.startswith(q), Occupation.name.contains(q)))
    rows, next_cursor = await paginate(session, stmt, Occupation.created_at, Occupation.code, cursor, limit)
    levels = (await session.scalars(
        select(OccupationLevel).where(OccupationLevel.occupation_code.in_([o.code for o in rows]))
    )).all()
    return Page[OccupationOut](
        items=[occupation_view(o, [lv for lv in levels if lv.occupation_code == o.code]) for o in rows],
        next_cursor=next_cursor,
    )


@router.get("/occupations/{code}", response_model=OccupationOut, summary="One occupation (public)")
async def get_occupation(session: Session, code: str, _: Annotated[None, require_roles(PUBLIC)]) -> OccupationOut:
    occupation = await session.get(Occupation, code)
    if occupation is None:
        raise not_found("occupation", code)
    levels = (await session.scalars(select(OccupationLevel).where(OccupationLevel.occupation_code == code))).all()
    return occupation_view(occupation, list(levels))


@router.get("/institutions", response_model=Page[InstitutionOut], summary="Training institution catalogue (public)")
async def list_institutions(
    session: Session,
    _: Annotated[None, require_roles(PUBLIC)],
    q: Annotated[str | None, Query(max_length=50, description="part of the name or the credit code")] = None,
    township: str | None = None,
    kind: VoucherKind | None = None,
    occupation_code: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[InstitutionOut]:
    stmt = select(Institution)
    if q:
        stmt = stmt.where(or_(Institution.name.contains(q), Institution.credit_code == q.upper()))
    if township:
        stmt = stmt.where(Institution.township == township)
    if status:
        stmt = stmt.where(Institution.status == status)
    # JSON lists are searched in their text form: portable between PostgreSQL and SQLite.
    if kind:
        stmt = stmt.where(cast(Institution.kinds, String).contains(f'"{kind}"'))
    if occupation_code:
        stmt = stmt.where(cast(Institution.occupation_codes, String).contains(f'"{occupation_code}"'))
    rows, next_cursor = await paginate(session, stmt, Institution.created_at, Institution.id, cursor, limit)
    return Page[InstitutionOut](items=[institution_view(i) for i in rows], next_cursor=next_cursor)


@router.get("/institutions/{institution_id}", response_model=InstitutionOut, summary="One institution (public)")
async def get_institution(
    session: Session, institution_id: uuid.UUID, _: Annotated[None, require_roles(PUBLIC)]
) -> InstitutionOut:
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise not_found("institution", institution_id)
    return institution_view(institution)


@router.post("/institutions", status_code=201, response_model=InstitutionOut,
             summary="Register an approved training institution (I1, bureau staff)")
@command
async def register(
    request: Request, session: Session, body: InstitutionIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> InstitutionOut:
    return institution_view(await register_institution(session, principal, body))


@router.patch("/institutions/{institution_id}", response_model=InstitutionOut,
              summary="Change an institution's details or approved kinds and occupations (bureau staff)")
@command(status_code=200)
async def change(
    request: Request, session: Session, institution_id: uuid.UUID, body: InstitutionPatch,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> InstitutionOut:
    return institution_view(await change_institution(session, principal, institution_id, body))


@router.post("/institutions/{institution_id}/status", response_model=InstitutionOut,
             summary="Approve again, suspend or revoke an institution with a reason (I3, bureau staff)")
@command
async def set_status(
    request: Request, session: Session, institution_id: uuid.UUID, body: InstitutionStatusIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> Outcome:
    outcome = await set_institution_status(session, principal, institution_id, body)
    return Outcome(institution_view(outcome.body), outcome.status_code)
