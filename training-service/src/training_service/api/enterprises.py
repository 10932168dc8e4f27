"""Enterprises (S5): registered by bureau staff; their on-the-job classes name them; they are the S5 payee."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.pagination import Page, paginate
from skillkit.pii import mask_mobile, mask_name
from skillkit.problems import not_found

from training_service.adapters.models import Enterprise
from training_service.api.schemas import EnterpriseIn, EnterpriseOut
from training_service.handlers.enterprises import register_enterprise

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises 企业（S5）"])

STAFF = (Role.BUREAU, Role.ADMIN)
READERS = (*STAFF, Role.AUDITOR, Role.TRAINING_ORG)


def enterprise_view(e: Enterprise, principal: Principal) -> EnterpriseOut:
    staff = principal.role in STAFF
    return EnterpriseOut(
        id=e.id, name=e.name, credit_code=e.credit_code, address=e.address, township=e.township,
        contact_name=e.contact_name if staff else mask_name(e.contact_name),
        contact_phone=e.contact_phone if staff else mask_mobile(e.contact_phone),
        created_by=e.created_by, created_at=e.created_at,
    )


@router.post("", response_model=EnterpriseOut, status_code=201,
             summary="Register an enterprise for on-the-job training (S5; credit code checked)")
@command
async def register(request: Request, session: Session, body: EnterpriseIn,
                   principal: Annotated[Principal, require_roles(*STAFF)]) -> Outcome:
    return Outcome(enterprise_view(await register_enterprise(session, principal, body), principal), 201)


@router.get("", response_model=Page[EnterpriseOut], summary="Registered enterprises, oldest first")
async def list_(session: Session, principal: Annotated[Principal, require_roles(*READERS)],
                cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[EnterpriseOut]:
    rows, next_cursor = await paginate(session, select(Enterprise), Enterprise.created_at, Enterprise.id, cursor, limit)
    return Page[EnterpriseOut](items=[enterprise_view(e, principal) for e in rows], next_cursor=next_cursor)


@router.get("/{enterprise_id}", response_model=EnterpriseOut, summary="One enterprise")
async def get(session: Session, enterprise_id: uuid.UUID,
              principal: Annotated[Principal, require_roles(*READERS)]) -> EnterpriseOut:
    enterprise = await session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise not_found("enterprise", enterprise_id)
    return enterprise_view(enterprise, principal)
