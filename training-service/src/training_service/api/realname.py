"""P1 views and corrections: a class's province records and their history, one trainee's, the pipeline's health,
and the institution's correction of a rejected or withdrawn line (sent again as the record's next version)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import Outcome, command

from training_service.api.classes import READERS
from training_service.api.schemas import (
    ClassRealnameOut,
    EnrolmentRealnameOut,
    RealnameHealthOut,
    RealnameVersionOut,
)
from training_service.handlers.inputs import RealnameCorrectionIn
from training_service.api.views import NOTICE_LABELS, PROVINCE_STATUS_LABELS, RECORD_TYPE_LABELS
from training_service.handlers import realname

router = APIRouter(tags=["province 省培训实名制"])


def _version(view: dict) -> RealnameVersionOut:
    return RealnameVersionOut(**view, record_type_label=RECORD_TYPE_LABELS.get(view["record_type"], view["record_type"]),
                              status_label=PROVINCE_STATUS_LABELS.get(view["status"], view["status"]))


def _notices(views: list[dict]) -> list:
    return [{**n, "notice_label": NOTICE_LABELS.get(n["notice"], n["notice"])} for n in views]


@router.get("/v1/classes/{class_id}/realname", response_model=ClassRealnameOut,
            summary="The class's province records (P1): versions, re-sends, answers, escalations, notices")
async def class_realname(
    session: Session, class_id: uuid.UUID, principal: Annotated[Principal, require_roles(*READERS)],
) -> ClassRealnameOut:
    view = await realname.class_records(session, principal, class_id)
    records = [{**r, "record_type_label": RECORD_TYPE_LABELS.get(r["record_type"], r["record_type"]),
                "versions": [_version(v) for v in r["versions"]]} for r in view["records"]]
    return ClassRealnameOut(**{**view, "records": records, "notices": _notices(view["notices"])})


@router.get("/v1/enrolments/{enrolment_id}/realname", response_model=EnrolmentRealnameOut,
            summary="One trainee's province history (P1): every version carrying the line, its answer, notices")
async def enrolment_realname(
    session: Session, enrolment_id: uuid.UUID, principal: Annotated[Principal, require_roles(*READERS)],
) -> EnrolmentRealnameOut:
    view = await realname.enrolment_records(session, principal, enrolment_id)
    return EnrolmentRealnameOut(enrolment_id=view["enrolment_id"], versions=[_version(v) for v in view["versions"]],
                                notices=_notices(view["notices"]))


@router.post("/v1/enrolments/{enrolment_id}/realname/resubmissions", status_code=201,
             response_model=RealnameVersionOut,
             summary="Correct a rejected or withdrawn line and send it again as the record's next version (P1)")
@command
async def resubmit(
    request: Request, session: Session, enrolment_id: uuid.UUID, body: RealnameCorrectionIn,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG)],
) -> Outcome:
    row = await realname.resubmit(session, request.app.state.settings, principal, enrolment_id, body)
    return Outcome(_version(realname.version_view(row)), 201)


@router.get("/v1/realname/health", response_model=RealnameHealthOut,
            summary="The province feed's pipeline health: unanswered, overdue, escalated (the ops dashboard)")
async def health(
    request: Request, session: Session, principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN,
                                                                                     Role.AUDITOR)],
) -> RealnameHealthOut:
    view = await realname.pipeline_health(session, request.app.state.settings)
    return RealnameHealthOut(**{**view, "escalated_records": [_version(v) for v in view["escalated_records"]]})
