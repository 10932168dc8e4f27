"""The class catalogue for workers (the mini-program's "find a class"), and interest in a class (报名意向, P9).

Public like the rest of the two catalogues (两目录公开, I1): open classes of approved institutions that have not
ended, named (institution, occupation, level) so the app shows them without further calls. "Near the worker" is the
`township` filter: the app passes the worker's township (from `GET /v1/workers/me` of the voucher service).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from skillkit.app import Session
from skillkit.auth import PUBLIC, Principal, Role, require_roles
from skillkit.commands import Outcome, command
from skillkit.contracts.vocab import SKILL_LEVEL_LABELS, VOUCHER_KIND_LABELS, VoucherKind
from skillkit.county import CountyTime, local_date
from skillkit.db import utcnow
from skillkit.pagination import Page
from skillkit.pii import cipher_for, mask_mobile
from skillkit.problems import Problem

from training_service.adapters.models import ClassInterest, Enrolment, Institution, Occupation, TrainingClass
from training_service.api.views import funding_label
from training_service.handlers.inputs import InterestIn
from training_service.handlers.common import class_for
from training_service.handlers.interests import open_class_or_404, register_interest, withdraw_interest

router = APIRouter(tags=["catalogue for workers 找培训"])

INTEREST_STATUS_LABELS = {"interested": "已报名意向", "enrolled": "已报名（凭券）", "withdrawn": "已撤回"}


class InstitutionBrief(BaseModel):
    id: uuid.UUID
    name: str
    township: str
    address: str
    contact_phone: str


class OpenClassOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: VoucherKind
    kind_label: str
    occupation_code: str
    occupation_name: str
    level: int | None
    level_label: str | None
    start_date: date
    end_date: date
    planned_days: int
    capacity: int
    seats_left: int
    venue: str
    institution: InstitutionBrief
    # S9: a class an industry department pays from its own funds is free to its trainees but earns no subsidy on
    # the voucher; the card says so before a worker enrols with one
    funded_by_department: str | None = None
    funding_label: str
    # the detail only (null in the list): what the class page shows besides the card
    teachers: list[str] | None = None
    outbound: bool | None = None
    employer: str | None = None
    positions_promised: int | None = None


class InterestOut(BaseModel):
    id: uuid.UUID
    class_id: uuid.UUID
    class_name: str
    institution_id: uuid.UUID
    institution_name: str
    contact_name: str
    mobile_masked: str = Field(description="`138****5678`, in every answer")
    mobile: str | None = Field(description="in full to the worker's own reads and to the institution of the class "
                                           "(P9: to call the worker back); null elsewhere (issue 16)")
    voucher_code: str | None
    note: str | None
    status: str
    status_label: str
    enrolment_id: uuid.UUID | None
    enrolment_status: str | None
    created_at: CountyTime
    updated_at: CountyTime


def _catalogue() -> Any:
    return (select(TrainingClass, Institution, Occupation.name)
            .join(Institution, Institution.id == TrainingClass.institution_id)
            .join(Occupation, Occupation.code == TrainingClass.occupation_code)
            .where(TrainingClass.status == "open", Institution.status == "approved",
                   TrainingClass.end_date >= local_date(utcnow())))


def _open_class(c: TrainingClass, inst: Institution, occupation_name: str, *, detail: bool = False) -> OpenClassOut:
    extra: dict[str, Any] = {}
    if detail:
        extra = dict(teachers=c.teachers, outbound=c.outbound, employer=c.employer,
                     positions_promised=c.positions_promised)
    return OpenClassOut(
        id=c.id, name=c.name, kind=c.kind, kind_label=VOUCHER_KIND_LABELS[VoucherKind(c.kind)],
        occupation_code=c.occupation_code, occupation_name=occupation_name, level=c.level,
        level_label=SKILL_LEVEL_LABELS.get(c.level) if c.level else None, start_date=c.start_date,
        end_date=c.end_date, planned_days=c.planned_days, capacity=c.capacity,
        seats_left=max(0, c.capacity - c.seats_taken), venue=c.venue,
        institution=InstitutionBrief(id=inst.id, name=inst.name, township=inst.township, address=inst.address,
                                     contact_phone=inst.contact_phone),
        funded_by_department=c.funded_by_department, funding_label=funding_label(c), **extra)


def _cursor(day: date, ident: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([day.isoformat(), str(ident)]).encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[date, uuid.UUID]:
    try:
        day, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return date.fromisoformat(day), uuid.UUID(ident)
    except Exception as exc:
        raise Problem(400, "cursor_invalid", "the cursor is not one this API returned") from exc


@router.get("/v1/open-classes", response_model=Page[OpenClassOut],
            summary="Open classes a worker can join, soonest first (public; roles: anyone)")
async def list_open_classes(
    session: Session,
    _: Annotated[None, require_roles(PUBLIC)],
    township: Annotated[str | None, Query(max_length=50, description="the institution's township (乡镇)")] = None,
    kind: VoucherKind | None = None,
    occupation_code: Annotated[str | None, Query(max_length=20)] = None,
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
    institution_id: uuid.UUID | None = None,
    starts_from: Annotated[date | None, Query(description="classes starting on or after this day")] = None,
    with_seats: Annotated[bool, Query(description="only classes with a seat left")] = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[OpenClassOut]:
    stmt = _catalogue()
    if township:
        stmt = stmt.where(Institution.township == township)
    if kind:
        stmt = stmt.where(TrainingClass.kind == str(kind))
    if occupation_code:
        stmt = stmt.where(TrainingClass.occupation_code == occupation_code)
    if level:
        stmt = stmt.where(TrainingClass.level == level)
    if institution_id:
        stmt = stmt.where(TrainingClass.institution_id == institution_id)
    if starts_from:
        stmt = stmt.where(TrainingClass.start_date >= starts_from)
    if with_seats:
        stmt = stmt.where(TrainingClass.seats_taken < TrainingClass.capacity)
    if cursor:
        day, ident = _after(cursor)
        stmt = stmt.where(or_(TrainingClass.start_date > day,
                              and_(TrainingClass.start_date == day, TrainingClass.id > ident)))
    rows = (await session.execute(stmt.order_by(TrainingClass.start_date, TrainingClass.id).limit(limit + 1))).all()
    next_cursor = _cursor(rows[limit - 1][0].start_date, rows[limit - 1][0].id) if len(rows) > limit else None
    return Page[OpenClassOut](items=[_open_class(*row) for row in rows[:limit]], next_cursor=next_cursor)


@router.get("/v1/open-classes/{class_id}", response_model=OpenClassOut,
            summary="One open class, for its page in the app (public; roles: anyone)")
async def get_open_class(session: Session, class_id: uuid.UUID,
                         _: Annotated[None, require_roles(PUBLIC)]) -> OpenClassOut:
    await open_class_or_404(session, class_id)
    row = (await session.execute(_catalogue().where(TrainingClass.id == class_id))).one()
    return _open_class(*row, detail=True)


async def _interest_views(session: Any, settings: Any, interests: list[ClassInterest], *,
                          full_mobile: bool) -> list[InterestOut]:
    """`full_mobile`: the worker reading their own interests (a GET: answers of POSTs are kept in the idempotency
    table, so they stay masked) or the institution of the class."""
    cipher = cipher_for(settings)
    mobiles = {i.id: cipher.decrypt(i.mobile_encrypted) for i in interests}
    class_ids = {i.class_id for i in interests}
    names: dict[uuid.UUID, tuple[str, str]] = {}
    if class_ids:
        rows = await session.execute(select(TrainingClass.id, TrainingClass.name, Institution.name)
                                     .join(Institution, Institution.id == TrainingClass.institution_id)
                                     .where(TrainingClass.id.in_(class_ids)))
        names = {row[0]: (row[1], row[2]) for row in rows}
    enrolment_ids = [i.enrolment_id for i in interests if i.enrolment_id]
    statuses: dict[uuid.UUID, str] = {}
    if enrolment_ids:
        statuses = dict((await session.execute(select(Enrolment.id, Enrolment.status)
                                               .where(Enrolment.id.in_(enrolment_ids)))).all())
    return [InterestOut(
        id=i.id, class_id=i.class_id, class_name=names[i.class_id][0], institution_id=i.institution_id,
        institution_name=names[i.class_id][1], contact_name=i.contact_name, mobile_masked=mask_mobile(mobiles[i.id]),
        mobile=mobiles[i.id] if full_mobile else None,
        voucher_code=i.voucher_code, note=i.note, status=i.status, status_label=INTEREST_STATUS_LABELS[i.status],
        enrolment_id=i.enrolment_id, enrolment_status=statuses.get(i.enrolment_id) if i.enrolment_id else None,
        created_at=i.created_at, updated_at=i.updated_at) for i in interests]


@router.post("/v1/open-classes/{class_id}/interests", status_code=201, response_model=InterestOut,
             responses={200: {"description": "This account registered interest in the class before: that interest"}},
             summary="Register interest in a class (报名意向, P9); the institution follows up (roles: worker)")
@command
async def post_interest(request: Request, session: Session, class_id: uuid.UUID, body: InterestIn,
                        principal: Annotated[Principal, require_roles(Role.WORKER)]) -> Outcome:
    outcome = await register_interest(session, request.app.state.settings, principal, class_id, body)
    views = await _interest_views(session, request.app.state.settings, [outcome.body], full_mobile=False)
    return Outcome(views[0], outcome.status_code)


@router.get("/v1/interests/mine", response_model=Page[InterestOut],
            summary="The calling worker's interests, newest first, with the enrolment that confirmed each (roles: worker)")
async def my_interests(request: Request, session: Session,
                       principal: Annotated[Principal, require_roles(Role.WORKER)],
                       limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[InterestOut]:
    rows = (await session.execute(select(ClassInterest).where(ClassInterest.account_subject == principal.subject)
                                  .order_by(ClassInterest.created_at.desc()).limit(limit))).scalars().all()
    return Page[InterestOut](items=await _interest_views(session, request.app.state.settings, list(rows),
                                                         full_mobile=True))


@router.post("/v1/interests/{interest_id}/withdraw", response_model=InterestOut,
             summary="Withdraw one's interest before the institution enrols (roles: worker)")
@command
async def withdraw(request: Request, session: Session, interest_id: uuid.UUID,
                   principal: Annotated[Principal, require_roles(Role.WORKER)]) -> Outcome:
    interest = await withdraw_interest(session, principal, interest_id)
    views = await _interest_views(session, request.app.state.settings, [interest], full_mobile=False)
    return Outcome(views[0], 200)


@router.get("/v1/classes/{class_id}/interests", response_model=Page[InterestOut],
            summary="Workers interested in the class, oldest first, to follow up one by one (P9) and enrol with their "
                    "voucher (roles: training_org of the class, bureau, admin, auditor)")
async def class_interests(
    request: Request, session: Session, class_id: uuid.UUID,
    principal: Annotated[Principal, require_roles(Role.TRAINING_ORG, Role.BUREAU, Role.ADMIN, Role.AUDITOR)],
    status: Annotated[str | None, Query(pattern="^(interested|enrolled|withdrawn)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Page[InterestOut]:
    await class_for(session, principal, class_id)  # another institution's class: 404
    stmt = select(ClassInterest).where(ClassInterest.class_id == class_id)
    if status:
        stmt = stmt.where(ClassInterest.status == status)
    rows = (await session.execute(stmt.order_by(ClassInterest.created_at, ClassInterest.id).limit(limit))).scalars().all()
    # the institution calls the worker back (P9); bureau, admin and auditors see it masked (issue 16)
    return Page[InterestOut](items=await _interest_views(session, request.app.state.settings, list(rows),
                                                         full_mobile=principal.role == Role.TRAINING_ORG))
