"""Loading records with the organisation check: an institution's users see only their own classes and trainees."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal, Role
from skillkit.problems import Problem, not_found

from training_service.adapters.models import Enrolment, Institution, TrainingClass


def own_institution_id(principal: Principal) -> uuid.UUID:
    """A training_org principal's org_id is its institution's id."""
    try:
        return uuid.UUID(str(principal.org_id))
    except ValueError as exc:
        raise Problem(403, "institution_unknown", f"organisation {principal.org_id!r} is not a training institution") from exc


def visible_to(principal: Principal | None, institution_id: uuid.UUID) -> bool:
    if principal is None or principal.role != Role.TRAINING_ORG:
        return True
    return str(institution_id) == str(principal.org_id)


async def institution_of(session: AsyncSession, principal: Principal) -> Institution:
    institution = await session.get(Institution, own_institution_id(principal))
    if institution is None:
        raise Problem(403, "institution_unknown", f"organisation {principal.org_id} is not in the institution catalogue")
    return institution


async def class_for(session: AsyncSession, principal: Principal, class_id: uuid.UUID) -> TrainingClass:
    """The class, if the principal may see it; another institution's class is 'not found' (nothing leaks)."""
    training_class = await session.get(TrainingClass, class_id)
    if training_class is None or not visible_to(principal, training_class.institution_id):
        raise not_found("class", class_id)
    return training_class


async def enrolment_for(session: AsyncSession, principal: Principal, enrolment_id: uuid.UUID) -> Enrolment:
    enrolment = await session.get(Enrolment, enrolment_id)
    if enrolment is None or not visible_to(principal, enrolment.institution_id):
        raise not_found("enrolment", enrolment_id)
    return enrolment


_classes = TrainingClass.__table__
_enrolments = Enrolment.__table__
# The class row and its enrolments counted by status in one round trip (a poller's GET): grouped by the class's
# primary key, so every class column may be selected; a class without enrolments gives one row, status NULL.
_CLASS_WITH_COUNTS = (
    select(_classes, _enrolments.c.status.label("enrolment_status"), func.count(_enrolments.c.id).label("enrolments"))
    .select_from(_classes.outerjoin(_enrolments, _enrolments.c.class_id == _classes.c.id))
    .where(_classes.c.id == bindparam("class_id"))
    .group_by(_classes.c.id, _enrolments.c.status)
)


async def class_with_counts(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID
) -> tuple[Row, dict[str, int]]:
    """The class as a plain row (attributes named as on `TrainingClass`, no ORM identity map: it is only read) and
    its enrolments counted by status; the same visibility as `class_for`."""
    rows = (await session.execute(_CLASS_WITH_COUNTS, {"class_id": class_id})).all()
    if not rows or not visible_to(principal, rows[0].institution_id):
        raise not_found("class", class_id)
    return rows[0], {row.enrolment_status: row.enrolments for row in rows if row.enrolment_status is not None}
