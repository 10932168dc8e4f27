"""T4 inputs: workforce size per township (set by the bureau) and the certificate-holding rate."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from skillkit.app import Session
from skillkit.auth import Principal, Role, require_roles
from skillkit.commands import command
from skillkit.county import local_date
from skillkit.db import utcnow

from certification_service.api.schemas import HoldingRateOut, WorkforceIn, WorkforceOut
from certification_service.handlers.completions import unevaluated
from certification_service.handlers.reports import holding_rate, set_workforce

router = APIRouter(prefix="/v1", tags=["holding rate 持证率 (T4)"])

Township = Annotated[str, Path(min_length=2, max_length=50)]


@router.put("/workforce/{township}", response_model=WorkforceOut, summary="Set a township's workforce size (T4)")
@command(status_code=200)
async def put_workforce(
    request: Request,
    session: Session,
    township: Township,
    body: WorkforceIn,
    principal: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN)],
) -> WorkforceOut:
    row = await set_workforce(session, principal, township, body.workforce_size)
    return WorkforceOut(township=row.township, workforce_size=row.workforce_size, updated_at=row.updated_at)


@router.get(
    "/reports/holding-rate",
    response_model=HoldingRateOut,
    summary="Certificate holders per township against the workforce, county total and the 32 % target (T4)",
)
async def get_holding_rate(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR, Role.FINANCE)],
) -> HoldingRateOut:
    return await holding_rate(session, request.app.state.settings.holding_rate_target)


class UnevaluatedTrainee(BaseModel):
    enrolment_id: str
    class_id: str | None
    occupation_code: str | None
    level: int | None
    completed_on: date
    days_since: int


class UnevaluatedInstitution(BaseModel):
    institution_id: str | None  # the training institution
    count: int
    trainees: list[UnevaluatedTrainee]


class UnevaluatedOut(BaseModel):
    as_of: date
    after_days: int
    total: int
    institutions: list[UnevaluatedInstitution]


@router.get(
    "/reports/unevaluated",
    response_model=UnevaluatedOut,
    summary="P3 培训一人，评价一人: trainees completed N days ago and evaluated nowhere yet, per training institution",
)
async def get_unevaluated(
    request: Request,
    session: Session,
    _: Annotated[Principal, require_roles(Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
    after_days: Annotated[int | None, Query(ge=0, le=366)] = None,
) -> UnevaluatedOut:
    days = request.app.state.settings.unevaluated_after_days if after_days is None else after_days
    today = local_date(utcnow())
    rows = await unevaluated(session, today, days)
    grouped: dict[str | None, list[UnevaluatedTrainee]] = {}
    for row in rows:
        grouped.setdefault(row.institution_id, []).append(UnevaluatedTrainee(
            enrolment_id=row.enrolment_id, class_id=row.class_id, occupation_code=row.occupation_code,
            level=row.level, completed_on=row.completed_on, days_since=(today - row.completed_on).days))
    return UnevaluatedOut(as_of=today, after_days=days, total=len(rows), institutions=[
        UnevaluatedInstitution(institution_id=key, count=len(items), trainees=items) for key, items in grouped.items()])
