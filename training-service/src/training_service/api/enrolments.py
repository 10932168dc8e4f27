"""One enrolment: reading it, drop-out, follow-up (employment, business licence)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command

from training_service.api.classes import READERS, enrolment_out
from training_service.api.schemas import DropIn, EmploymentIn, EnrolmentOut, LicenceIn
from training_service.handlers.common import enrolment_for
from training_service.handlers.training import drop, record_employment, record_licence

router = APIRouter(prefix="/v1/enrolments", tags=["enrolments 学员"])


@router.get("/{enrolment_id}", response_model=EnrolmentOut,
            summary="One trainee's enrolment, with its saga state and the province's verdict (P1)")
async def get_enrolment(
    request: Request, session: Session, enrolment_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> EnrolmentOut:
    return await enrolment_out(session, request, await enrolment_for(session, principal, enrolment_id))


@router.post("/{enrolment_id}/drop", response_model=EnrolmentOut, summary="The trainee left before completion")
@command
async def drop_(
    request: Request, session: Session, enrolment_id: uuid.UUID, body: DropIn,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG)],
) -> Outcome:
    outcome = await drop(session, principal, enrolment_id, body)
    return Outcome(await enrolment_out(session, request, outcome.body), 200)


@router.post("/{enrolment_id}/employment", response_model=EnrolmentOut,
             summary="Follow-up: the trainee was employed (within six months of completion)")
@command
async def employment(
    request: Request, session: Session, enrolment_id: uuid.UUID, body: EmploymentIn,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG)],
) -> Outcome:
    outcome = await record_employment(session, request.app.state.settings, principal, enrolment_id, body)
    return Outcome(await enrolment_out(session, request, outcome.body), 200)


@router.post("/{enrolment_id}/business-licence", response_model=EnrolmentOut,
             summary="Follow-up: the entrepreneurship trainee obtained a business licence (S6)")
@command
async def licence(
    request: Request, session: Session, enrolment_id: uuid.UUID, body: LicenceIn,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG)],
) -> Outcome:
    outcome = await record_licence(session, request.app.state.settings, principal, enrolment_id, body)
    return Outcome(await enrolment_out(session, request, outcome.body), 200)
