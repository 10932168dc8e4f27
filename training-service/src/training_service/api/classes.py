"""Classes (开班), their approval (S2), enrolment by voucher, attendance, completion and outcome."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.contracts.vocab import VoucherKind
from skillkit.pagination import Page, paginate
from skillkit.pii import cipher_for

from training_service.adapters.models import CheckIn, Enrolment, TrainingClass
from training_service.api.schemas import (
    BulkEnrolmentOut,
    BulkOut,
    CheckInIn,
    CheckInOut,
    ClassDecisionIn,
    ClassIn,
    ClassOut,
    CompletionIn,
    EnrolmentIn,
    EnrolmentOut,
)
from training_service.api.views import class_view, enrolment_view, masked_id_number
from training_service.handlers.attendance import check_in
from training_service.handlers.bulk import bulk_check_ins, bulk_completions, bulk_follow_ups
from training_service.handlers.bulk_enrolments import bulk_enrol
from training_service.handlers.classes import decide_class, open_class
from training_service.handlers.common import class_for, class_with_counts, own_institution_id
from training_service.handlers.enrolments import enrol
from training_service.handlers.training import complete, report_outcome

router = APIRouter(prefix="/v1/classes", tags=["classes 开班"])

READERS = (Role.TRAINING_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR)
ORG = (Role.TRAINING_ORG,)
STAFF = (Role.BUREAU, Role.ADMIN)


async def attendance_counts(session: AsyncSession, enrolment_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not enrolment_ids:
        return {}
    rows = await session.execute(
        select(CheckIn.enrolment_id, func.count()).where(CheckIn.enrolment_id.in_(enrolment_ids))
        .group_by(CheckIn.enrolment_id)
    )
    return {row[0]: row[1] for row in rows}


async def enrolment_out(session: AsyncSession, request: Request, enrolment: Enrolment) -> EnrolmentOut:
    counts = await attendance_counts(session, [enrolment.id])
    cipher = cipher_for(request.app.state.settings)
    return enrolment_view(enrolment, masked_id_number(enrolment, cipher), counts.get(enrolment.id, 0))


@router.post("", status_code=201, response_model=ClassOut,
             summary="Open a class (开班备案); order classes wait for the bureau's approval (S1, S2, I3)")
@command
async def open_(
    request: Request, session: Session, body: ClassIn, principal: Annotated[Principal, require_roles(*ORG)]
) -> ClassOut:
    return class_view(await open_class(session, request.app.state.settings, principal, body))


@router.get("", response_model=Page[ClassOut], summary="Classes; an institution sees only its own")
async def list_classes(
    session: Session,
    principal: Annotated[Principal, require_roles(*READERS)],
    status: str | None = None,
    kind: VoucherKind | None = None,
    institution_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ClassOut]:
    stmt = select(TrainingClass)
    if principal.role == Role.TRAINING_ORG:
        stmt = stmt.where(TrainingClass.institution_id == own_institution_id(principal))
    elif institution_id:
        stmt = stmt.where(TrainingClass.institution_id == institution_id)
    if status:
        stmt = stmt.where(TrainingClass.status == status)
    if kind:
        stmt = stmt.where(TrainingClass.kind == str(kind))
    rows, next_cursor = await paginate(session, stmt, TrainingClass.created_at, TrainingClass.id, cursor, limit)
    return Page[ClassOut](items=[class_view(c) for c in rows], next_cursor=next_cursor)


@router.get("/{class_id}", response_model=ClassOut,
            summary="One class, with its enrolments counted by status (a cheap poll: no trainee data is read)")
async def get_class(
    session: Session, class_id: uuid.UUID, principal: Annotated[Principal, require_roles(*READERS)]
) -> ClassOut:
    training_class, counts = await class_with_counts(session, principal, class_id)
    return class_view(training_class, counts)


@router.post("/{class_id}/decision", response_model=ClassOut,
             summary="Approve (审核备案) or reject an order class with a reason (S2, bureau staff)")
@command
async def decide(
    request: Request, session: Session, class_id: uuid.UUID, body: ClassDecisionIn,
    principal: Annotated[Principal, require_roles(*STAFF)],
) -> Outcome:
    outcome = await decide_class(session, request.app.state.settings, principal, class_id, body)
    return Outcome(class_view(outcome.body), outcome.status_code)


@router.post("/{class_id}/enrolments", status_code=201, response_model=EnrolmentOut,
             summary="Enrol a trainee by voucher (scanned QR token or typed code); pending until the voucher binds")
@command
async def enrol_(
    request: Request, session: Session, class_id: uuid.UUID, body: EnrolmentIn,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> EnrolmentOut:
    enrolment = await enrol(session, request.app.state.settings, principal, class_id, body)
    return await enrolment_out(session, request, enrolment)


@router.get("/{class_id}/enrolments", response_model=Page[EnrolmentOut], summary="The class's trainees")
async def list_enrolments(
    request: Request, session: Session, class_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(*READERS)],
    status: str | None = None,
    province_status: Annotated[str | None, Query(description="P1: none, submitted, accepted, rejected or withdrawn")] = None,
    completion_province_status: Annotated[str | None, Query(
        description="P1, the completion record: none, submitted, accepted or rejected")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EnrolmentOut]:
    training_class = await class_for(session, principal, class_id)
    stmt = select(Enrolment).where(Enrolment.class_id == training_class.id)
    if status:
        stmt = stmt.where(Enrolment.status == status)
    if province_status:
        stmt = stmt.where(Enrolment.province_status == province_status)
    if completion_province_status == "none":  # not sent: the column is empty until the completion is
        stmt = stmt.where(Enrolment.completion_province_status.is_(None))
    elif completion_province_status:
        stmt = stmt.where(Enrolment.completion_province_status == completion_province_status)
    rows, next_cursor = await paginate(session, stmt, Enrolment.created_at, Enrolment.id, cursor, limit)
    counts = await attendance_counts(session, [e.id for e in rows])
    cipher = cipher_for(request.app.state.settings)
    return Page[EnrolmentOut](items=[enrolment_view(e, masked_id_number(e, cipher), counts.get(e.id, 0)) for e in rows],
                              next_cursor=next_cursor)


def check_in_view(record: CheckIn, days: int) -> CheckInOut:
    return CheckInOut(id=record.id, enrolment_id=record.enrolment_id, class_id=record.class_id, day=record.day,
                      method=record.method, staff_id=record.staff_id, checked_at=record.checked_at,
                      evidence_ref=record.evidence_ref, attended_days=days)


@router.post("/{class_id}/check-ins", status_code=201, response_model=CheckInOut,
             summary="Daily check-in (face, QR or staff-entered); a second one the same day returns the first (200)")
@command
async def check_in_(
    request: Request, session: Session, class_id: uuid.UUID, body: CheckInIn,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> Outcome:
    outcome = await check_in(session, request.app.state.settings, principal, class_id, body)
    record, days = outcome.body
    return Outcome(check_in_view(record, days), outcome.status_code)


@router.post("/{class_id}/completions", status_code=201, response_model=EnrolmentOut,
             summary="Record a trainee's completion (结业): passed or failed, scores")
@command
async def complete_(
    request: Request, session: Session, class_id: uuid.UUID, body: CompletionIn,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> EnrolmentOut:
    enrolment = await complete(session, request.app.state.settings, principal, class_id, body)
    return await enrolment_out(session, request, enrolment)


@router.post("/{class_id}/outcome", response_model=ClassOut,
             summary="Close the follow-up window and report the employment, pass and licence rates (S2, S6)")
@command
async def outcome_(
    request: Request, session: Session, class_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG, *STAFF)],
) -> Outcome:
    outcome = await report_outcome(session, request.app.state.settings, principal, class_id)
    return Outcome(class_view(outcome.body), outcome.status_code)


BULK_DOC = (
    "A .csv (UTF-8) or .xlsx file with a header row (English codes or Chinese labels). Every bad row is reported "
    "with its line number and changes nothing; the good rows are applied."
)


@router.post("/{class_id}/enrolments/bulk", status_code=201, response_model=BulkEnrolmentOut,
             summary="Bulk enrolment: voucher_code (券码/电子券号), trainee_name (姓名), id_number (身份证号)",
             description="A .csv (UTF-8 or GB18030) or .xlsx roster. Each row is checked like a single enrolment and "
                         "a bad row is reported with its line and the code the single enrolment would give (e.g. "
                         "`voucher_unknown` while the voucher's issue has not reached the training service: retry "
                         "that row); the good rows are enrolled (pending until their vouchers bind).")
@command
async def bulk_enrol_(
    request: Request, session: Session, class_id: uuid.UUID, file: UploadFile,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> BulkEnrolmentOut:
    content = await file.read()

    result = await bulk_enrol(session, request.app.state.settings, principal, class_id, file.filename or "", content)
    return BulkEnrolmentOut(
        applied=len(result.enrolments), rejected=len(result.row_errors), row_errors=result.row_errors,
        enrolments=[enrolment_view(e, masked, 0) for e, masked in result.enrolments],
    )


@router.post("/{class_id}/check-ins/bulk", status_code=201, response_model=BulkOut,
             summary="Bulk check-ins: enrolment_id, method (face/qr/staff), staff_id, checked_at", description=BULK_DOC)
@command
async def bulk_check_ins_(
    request: Request, session: Session, class_id: uuid.UUID, file: UploadFile,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> BulkOut:
    content = await file.read()

    return await bulk_check_ins(session, request.app.state.settings, principal, class_id, file.filename or "", content)


@router.post("/{class_id}/completions/bulk", status_code=201, response_model=BulkOut,
             summary="Bulk completions: enrolment_id, passed, theory_score, practical_score, completed_on",
             description=BULK_DOC)
@command
async def bulk_completions_(
    request: Request, session: Session, class_id: uuid.UUID, file: UploadFile,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> BulkOut:
    content = await file.read()

    return await bulk_completions(session, request.app.state.settings, principal, class_id, file.filename or "", content)


@router.post("/{class_id}/follow-ups/bulk", status_code=201, response_model=BulkOut,
             summary="Bulk follow-up: enrolment_id and either employer, employer_credit_code, employed_on, "
                     "contract_months or licence_credit_code, licensed_on", description=BULK_DOC)
@command
async def bulk_follow_ups_(
    request: Request, session: Session, class_id: uuid.UUID, file: UploadFile,
    principal: Annotated[Principal, require_roles(*ORG)],
) -> BulkOut:
    content = await file.read()

    return await bulk_follow_ups(session, request.app.state.settings, principal, class_id, file.filename or "", content)
