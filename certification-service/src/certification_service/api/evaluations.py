"""Evaluation (考评) endpoints: an evaluation institution schedules, registers candidates, records results."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy import select

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.pagination import Page, paginate
from skillkit.pii import cipher_for

from certification_service.adapters.models import Candidate, Evaluation
from certification_service.api.schemas import CandidateIn, CandidateOut, EvaluationIn, EvaluationOut, ResultIn, UploadOut
from certification_service.api.views import candidate_view, evaluation_view, upload_view
from certification_service.handlers.candidates import register_candidate, register_roster
from certification_service.handlers.completions import awaiting
from certification_service.handlers.evaluations import (
    get_candidate,
    get_evaluation,
    record_result,
    schedule_evaluation,
    writable_evaluation,
)
from certification_service.handlers.institutions import ensure_own
from certification_service.handlers.uploads import apply_upload

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations 考评"])

READERS = (Role.EVALUATION_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR)


@router.post("", status_code=201, response_model=EvaluationOut, summary="Schedule an evaluation the institution is filed for (I2)")
@command
async def schedule(
    request: Request,
    session: Session,
    body: EvaluationIn,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> EvaluationOut:
    settings = request.app.state.settings

    return evaluation_view(await schedule_evaluation(session, settings, principal, body), settings)


@router.get("", response_model=Page[EvaluationOut], summary="List evaluations (an institution sees its own)")
async def list_evaluations(
    request: Request,
    session: Session,
    principal: Annotated[Principal, require_roles(*READERS)],
    institution_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EvaluationOut]:
    stmt = select(Evaluation)
    if principal.role == Role.EVALUATION_ORG:
        stmt = stmt.where(Evaluation.institution_id == _org_uuid_or_none(principal))
    if institution_id is not None:
        ensure_own(principal, institution_id)
        stmt = stmt.where(Evaluation.institution_id == institution_id)
    rows, next_cursor = await paginate(session, stmt, Evaluation.created_at, Evaluation.id, cursor, limit)
    settings = request.app.state.settings
    return Page[EvaluationOut](items=[evaluation_view(e, settings) for e in rows], next_cursor=next_cursor)


@router.get("/{evaluation_id}", response_model=EvaluationOut, summary="One evaluation")
async def get_one(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> EvaluationOut:
    return evaluation_view(await get_evaluation(session, principal, evaluation_id), request.app.state.settings)


@router.post(
    "/{evaluation_id}/candidates",
    status_code=201,
    response_model=CandidateOut,
    summary="Register a candidate by resident ID number (unknown persons are recorded and flagged; E7 free evaluation)",
)
@command
async def add_candidate(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    body: CandidateIn,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> CandidateOut:
    settings = request.app.state.settings
    cipher = cipher_for(settings)

    return candidate_view(await register_candidate(session, settings, principal, evaluation_id, body), cipher)


@router.post(
    "/{evaluation_id}/candidates/upload",
    status_code=201,
    response_model=UploadOut,
    summary="Register candidates from a roster, CSV or XLSX (姓名, 身份证号; optional E7 columns): bad rows are "
    "reported with their line numbers, the good rows are registered",
)
@command
async def upload_candidates(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    file: UploadFile,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> UploadOut:
    settings = request.app.state.settings
    content = await file.read()

    evaluation = await writable_evaluation(session, principal, evaluation_id)
    report = await register_roster(session, settings, principal, evaluation, file.filename or "", content)
    return upload_view(report)


@router.get("/{evaluation_id}/candidates", response_model=Page[CandidateOut], summary="The evaluation's candidates (filter unknown_person=true for persons the voucher service does not know)")
async def list_candidates(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(*READERS)],
    unknown_person: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CandidateOut]:
    await get_evaluation(session, principal, evaluation_id)
    stmt = select(Candidate).where(Candidate.evaluation_id == evaluation_id)
    if unknown_person is not None:
        stmt = stmt.where(Candidate.unknown_person == unknown_person)
    rows, next_cursor = await paginate(session, stmt, Candidate.created_at, Candidate.id, cursor, limit)
    cipher = cipher_for(request.app.state.settings)
    return Page[CandidateOut](items=[candidate_view(c, cipher) for c in rows], next_cursor=next_cursor)


@router.put(
    "/{evaluation_id}/candidates/{candidate_id}/result",
    response_model=CandidateOut,
    summary="Record one candidate's result (theory and practical scores 0-100, pass/fail)",
)
@command
async def put_result(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    candidate_id: uuid.UUID,
    body: ResultIn,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> Outcome:
    settings = request.app.state.settings
    cipher = cipher_for(settings)

    evaluation = await writable_evaluation(session, principal, evaluation_id)
    candidate = await get_candidate(session, principal, evaluation_id, candidate_id)
    await record_result(
        session, settings, principal, evaluation, candidate, body.theory_score, body.practical_score, body.passed
    )
    return Outcome(candidate_view(candidate, cipher), 200)


@router.post(
    "/{evaluation_id}/results/upload",
    response_model=UploadOut,
    summary="Bulk results as CSV or XLSX: every bad row is reported with its line number, the good rows are applied",
)
@command
async def upload_results(
    request: Request,
    session: Session,
    evaluation_id: uuid.UUID,
    file: UploadFile,
    principal: Annotated[Principal, require_roles(Role.EVALUATION_ORG)],
) -> Outcome:
    settings = request.app.state.settings
    content = await file.read()

    evaluation = await writable_evaluation(session, principal, evaluation_id)
    report = await apply_upload(session, settings, principal, evaluation, file.filename or "", content)
    return Outcome(upload_view(report), 200)


def _org_uuid_or_none(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(principal.org_id))
    except ValueError:
        return None


class CompletedTraineeOut(BaseModel):
    """A trainee who completed training in the evaluation's occupation (P3): register them as a candidate (their
    name and ID number are taken at the evaluation; the topics carry only the person key)."""

    enrolment_id: str
    class_id: str | None
    training_institution_id: str | None
    level: int | None
    completed_on: date
    passed: bool | None
    registered: bool  # already a candidate of this evaluation


@router.get("/{evaluation_id}/completed-trainees", response_model=list[CompletedTraineeOut],
            summary="P3 培训一人，评价一人: the completed trainees of the evaluation's occupation, to register them")
async def completed_trainees(
    session: Session, evaluation_id: uuid.UUID, principal: Annotated[Principal, require_roles(*READERS)],
) -> list[CompletedTraineeOut]:
    evaluation = await get_evaluation(session, principal, evaluation_id)
    return [CompletedTraineeOut(enrolment_id=row.enrolment_id, class_id=row.class_id,
                                training_institution_id=row.institution_id, level=row.level,
                                completed_on=row.completed_on, passed=row.passed, registered=registered)
            for row, registered in await awaiting(session, evaluation)]
