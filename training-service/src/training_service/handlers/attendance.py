"""Attendance: daily check-ins, one at a time or a whole upload in a few statements.

What leaves the service: `training.started` once per enrolment, when its first attendance is recorded (a
conditional UPDATE of `enrolments.started_on` decides, so re-uploads, out-of-order days and concurrent uploads
never announce a trainee twice), and P1 attendance sheets, one per class and day of newly recorded check-ins.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from skillkit.auth import Principal
from skillkit.commands import Outcome
from skillkit.contracts.province import AttendanceLine
from skillkit.contracts.training import TrainingStarted
from skillkit.county import local_date
from skillkit.db import utcnow
from skillkit.inserts import insert_or_skip
from training_service import clock
from skillkit.problems import Problem

from training_service.adapters.locks import lock_enrolments
from training_service.adapters.models import CheckIn, Enrolment, TrainingClass
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import CheckInIn
from training_service.handlers import province
from training_service.handlers.common import class_for

# A device clock may run a little ahead; anything later is refused.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class NewCheckIn:
    enrolment: Enrolment
    day: date
    data: CheckInIn


def check_in_day(training_class: TrainingClass, enrolment: Enrolment | None, data: CheckInIn, now: datetime) -> date:
    """The checks of one check-in (no I/O); returns its day, the county-local date of `checked_at`."""
    if enrolment is None or enrolment.class_id != training_class.id:
        raise Problem(422, "enrolment_not_in_class", f"enrolment {data.enrolment_id} is not a trainee of this class")
    if enrolment.status != "active":
        raise Problem(409, "enrolment_not_active", f"the enrolment is {enrolment.status}; only active trainees check in")
    if data.checked_at > now + CLOCK_SKEW:
        raise Problem(422, "checked_at_in_future", "checked_at is in the future")
    day = local_date(data.checked_at)
    if not training_class.start_date <= day <= training_class.end_date:
        raise Problem(
            422, "check_in_out_of_dates",
            f"{day} is outside the class dates {training_class.start_date} to {training_class.end_date}",
        )
    # No back-dated training: a day before the trainee was enrolled and bound, or before the bureau approved the
    # class (S2 order classes, S1 classes outside 3–10 days), was not a subsidised training day.
    enrolled = max(local_date(enrolment.created_at), local_date(enrolment.bound_at) if enrolment.bound_at else date.min)
    if day < enrolled:
        raise Problem(422, "check_in_before_enrolment",
                      f"{day} is before the trainee was enrolled and bound ({enrolled}): no back-dated training")
    if training_class.decided_at is not None and day < local_date(training_class.decided_at):
        raise Problem(422, "check_in_before_approval",
                      f"{day} is before the bureau approved the class ({local_date(training_class.decided_at)})")
    return day


def attended_elsewhere(day: date) -> Problem:
    return Problem(409, "attended_elsewhere_that_day",
                   f"the trainee already attended another class on {day}: a day is subsidised once")


async def days_attended_elsewhere(
    session: AsyncSession, training_class: TrainingClass, new: list[NewCheckIn]
) -> set[tuple[str, date]]:
    """(person key, day) among these check-ins that the person already attended in another class: each class pays
    per day attended, so one day in two classes (an inclusive and an order class the same week, E4 allows both)
    would be paid twice."""
    if not new:
        return set()
    rows = await session.execute(_ELSEWHERE, {
        "class_id": training_class.id, "persons": sorted({n.enrolment.person_key for n in new}),
        "days": sorted({n.day for n in new}),
    })
    return {(person, day) for person, day in rows}


_ELSEWHERE = (
    select(Enrolment.person_key, CheckIn.day).join(Enrolment, CheckIn.enrolment_id == Enrolment.id)
    .where(CheckIn.class_id != bindparam("class_id"), Enrolment.person_key.in_(bindparam("persons", expanding=True)),
           CheckIn.day.in_(bindparam("days", expanding=True)))
    .distinct()
)


class Attendance(NamedTuple):
    """A trainee's attended days and the last of them (None before the first)."""

    days: int
    last_day: date | None


NO_ATTENDANCE = Attendance(0, None)


async def attended_days(session: AsyncSession, enrolment_id: uuid.UUID) -> int:
    return await session.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.enrolment_id == enrolment_id)) or 0


async def attendance_of(session: AsyncSession, enrolment_id: uuid.UUID) -> Attendance:
    days, last_day = (await session.execute(
        select(func.count(), func.max(CheckIn.day)).where(CheckIn.enrolment_id == enrolment_id))).one()
    return Attendance(days or 0, last_day)


async def class_attendance(session: AsyncSession, class_id: uuid.UUID) -> dict[uuid.UUID, Attendance]:
    rows = await session.execute(select(CheckIn.enrolment_id, func.count(), func.max(CheckIn.day))
                                 .where(CheckIn.class_id == class_id).group_by(CheckIn.enrolment_id))
    return {enrolment_id: Attendance(days, last_day) for enrolment_id, days, last_day in rows}


async def record_check_ins(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, training_class: TrainingClass,
    new: list[NewCheckIn],
) -> list[NewCheckIn]:
    """Inserts checked check-ins (INSERT .. ON CONFLICT DO NOTHING: one that a concurrent request recorded first
    counts once) and writes their events; returns those actually recorded."""
    if not new:
        return []
    now = utcnow()
    rows = [dict(id=uuid.uuid4(), enrolment_id=n.enrolment.id, class_id=training_class.id, day=n.day,
                 method=n.data.method, staff_id=n.data.staff_id if n.data.method == "staff" else None,
                 checked_at=n.data.checked_at, evidence_ref=n.data.evidence_ref, recorded_by=principal.subject,
                 created_at=now) for n in new]
    inserted = {(row.enrolment_id, row.day) for row in await insert_or_skip(
        session, CheckIn.__table__, rows, ("enrolment_id", "day"), returning=("enrolment_id", "day"))}
    recorded = [n for n in new if (n.enrolment.id, n.day) in inserted]
    lines: dict[date, list[AttendanceLine]] = defaultdict(list)
    for n in recorded:
        lines[n.day].append(AttendanceLine(enrolment_id=str(n.enrolment.id), person_key=n.enrolment.person_key,
                                           method=n.data.method, checked_at=n.data.checked_at,
                                           evidence_ref=n.data.evidence_ref))
    events = await _started(session, training_class, recorded)
    events += province.attendance_sheets(session, settings, training_class, lines)  # P1
    await outbox.add_many(session, events)
    return recorded


async def _started(session: AsyncSession, training_class: TrainingClass, recorded: list[NewCheckIn]) -> list[Event]:
    """`training.started` for the enrolments whose first attendance this is: one conditional UPDATE sets
    `started_on` (the earliest recorded day) where it is still empty. On PostgreSQL a concurrent upload waits for
    the row lock and then finds it set, so only one of them announces the trainee. The rows are locked in id
    order first: the UPDATE alone takes them in its plan's order (adapters/locks.py)."""
    candidates = {n.enrolment.id: n.enrolment for n in recorded if n.enrolment.started_on is None}
    if not candidates:
        return []
    if len(candidates) > 1:
        await lock_enrolments(await session.connection(), candidates)
    first_day = select(func.min(CheckIn.day)).where(CheckIn.enrolment_id == Enrolment.id).scalar_subquery()
    started = dict((await session.execute(
        update(Enrolment)
        .where(Enrolment.id.in_(list(candidates)), Enrolment.started_on.is_(None))
        .values(started_on=first_day)
        .returning(Enrolment.id, Enrolment.started_on)
        .execution_options(synchronize_session=False)
    )).all())
    earliest: dict = {}  # (enrolment id, day) and enrolment id -> the earliest checked_at recorded now
    for n in sorted(recorded, key=lambda n: n.data.checked_at):
        earliest.setdefault((n.enrolment.id, n.day), n.data.checked_at)
        earliest.setdefault(n.enrolment.id, n.data.checked_at)
    events: list[Event] = []
    for enrolment_id, enrolment in candidates.items():  # upload order
        first = started.get(enrolment_id)
        if first is None:
            continue  # a concurrent request started it
        set_committed_value(enrolment, "started_on", first)
        events.append((
            TrainingStarted(enrolment_id=str(enrolment_id), voucher_id=enrolment.voucher_id,
                            class_id=str(training_class.id), person_key=enrolment.person_key, first_day=first,
                            checked_at=earliest.get((enrolment_id, first), earliest[enrolment_id])),
            enrolment.person_key, str(enrolment_id),
        ))
    return events


async def check_in(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID, data: CheckInIn
) -> Outcome:
    """Daily check-in; a second check-in the same day returns the first one (200) and counts once."""
    training_class = await class_for(session, principal, class_id)
    enrolment = await session.get(Enrolment, data.enrolment_id)
    day = check_in_day(training_class, enrolment, data, clock.now())
    assert enrolment is not None
    of_the_day = select(CheckIn).where(CheckIn.enrolment_id == enrolment.id, CheckIn.day == day)
    existing = await session.scalar(of_the_day)
    if existing is None:
        new = [NewCheckIn(enrolment, day, data)]
        if await days_attended_elsewhere(session, training_class, new):
            raise attended_elsewhere(day)
        recorded = await record_check_ins(session, settings, principal, training_class, new)
        existing = await session.scalar(of_the_day)
        assert existing is not None
        if recorded:
            return Outcome((existing, await attended_days(session, enrolment.id)), 201)
    return Outcome((existing, await attended_days(session, enrolment.id)), 200)
