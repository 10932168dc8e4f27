"""Completion (结业), drop-outs, follow-up and the class outcome (S2, S6)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal, Role
from skillkit.commands import Outcome
from skillkit.contracts.training import (
    ClassOutcomeReported,
    TrainingBusinessLicensed,
    TrainingCompleted,
    TrainingDropped,
    TrainingEmploymentRecorded,
)
from skillkit.contracts.vocab import VoucherKind
from skillkit.county import local_date
from skillkit.db import utcnow
from training_service import clock
from skillkit.problems import Problem

from training_service.adapters.models import CheckIn, Enrolment, TrainingClass
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import CompletionIn, DropIn, EmploymentIn, LicenceIn
from training_service.domain.rules import add_months, credit_code_or_problem, may_pass, rate
from training_service.handlers import province
from training_service.handlers.attendance import NO_ATTENDANCE, Attendance, attendance_of
from training_service.handlers.common import class_for, enrolment_for
from training_service.handlers.enrolments import release_seat

CENT = Decimal("0.01")
# Who closes an S6 licence window whose six months have passed (the periodic job; P10 records it).
S6_WINDOW_CLOSER = "system:s6-follow-up-window"
SYSTEM = Principal(subject=S6_WINDOW_CLOSER, role=Role.ADMIN)


def completion_events(
    settings: TrainingSettings, principal: Principal, training_class: TrainingClass, enrolment: Enrolment | None,
    data: CompletionIn, attendance: Attendance,
) -> list[Event]:
    """Checks and records one completion (`attendance`: the trainee's check-ins, counted); returns
    its events for the caller to write, alone or with a whole upload's. The P1 completion record is not among
    them: the caller puts the completions it recorded together on one sheet (`province.completion_sheet`)."""
    if enrolment is None or enrolment.class_id != training_class.id:
        raise Problem(422, "enrolment_not_in_class", f"enrolment {data.enrolment_id} is not a trainee of this class")
    if enrolment.status == "completed":
        raise Problem(409, "enrolment_already_completed", "the trainee's completion is already recorded")
    if enrolment.status != "active":
        raise Problem(409, "enrolment_not_active", f"the enrolment is {enrolment.status}; only active trainees complete")
    now = clock.now()
    today = local_date(now)
    days = attendance.days
    # A completion closes the training it counts: not before the last day attended, nor after the class's last day
    # (the S2/S6 follow-up windows run from it, and the voucher's validity is checked on it).
    earliest = max(training_class.start_date, attendance.last_day or training_class.start_date)
    latest = min(training_class.end_date, today)
    completed_on = data.completed_on or latest
    if not earliest <= completed_on <= latest:
        raise Problem(422, "completed_on_out_of_range",
                      f"completed_on must lie between {earliest} (the class start or the last day attended) and "
                      f"{latest} (the class's last day, or today)")
    if data.passed and not may_pass(days, training_class.planned_days, settings.completion_min_attendance_share):
        raise Problem(
            422, "attendance_below_minimum",
            f"attended {days} of {training_class.planned_days} planned days, below the minimum share "
            f"{settings.completion_min_attendance_share}: cannot pass",
        )
    theory = data.theory_score.quantize(CENT) if data.theory_score is not None else None
    practical = data.practical_score.quantize(CENT) if data.practical_score is not None else None
    enrolment.status = "completed"
    enrolment.attended_days = days
    enrolment.passed = data.passed
    enrolment.theory_score = theory
    enrolment.practical_score = practical
    enrolment.completed_on = completed_on
    enrolment.completed_by = principal.subject
    enrolment.updated_at = now
    return [(
        TrainingCompleted(
            enrolment_id=str(enrolment.id),
            voucher_id=enrolment.voucher_id,
            class_id=str(training_class.id),
            person_key=enrolment.person_key,
            attended_days=days,
            passed=data.passed,
            theory_score=theory,
            practical_score=practical,
            completed_on=completed_on,
        ),
        enrolment.person_key,
        str(enrolment.id),
    )]


async def complete(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID, data: CompletionIn
) -> Enrolment:
    training_class = await class_for(session, principal, class_id)
    enrolment = await session.get(Enrolment, data.enrolment_id)
    attendance = await attendance_of(session, enrolment.id) if enrolment is not None else NO_ATTENDANCE
    events = completion_events(settings, principal, training_class, enrolment, data, attendance)
    assert enrolment is not None
    sheet = province.completion_sheet(session, settings, training_class, [enrolment])  # P1: a sheet of one line
    await outbox.add_many(session, events + ([sheet] if sheet else []))
    return enrolment


async def drop(session: AsyncSession, principal: Principal, enrolment_id: uuid.UUID, data: DropIn) -> Outcome:
    enrolment = await enrolment_for(session, principal, enrolment_id)
    if enrolment.status != "active":
        raise Problem(409, "enrolment_not_active", f"the enrolment is {enrolment.status}; only active trainees drop out")
    enrolment.status = "dropped"
    enrolment.live_slot = None  # the voucher service gives the voucher back on `training.dropped`
    enrolment.drop_reason = data.reason
    enrolment.dropped_by = principal.subject
    enrolment.updated_at = utcnow()
    await release_seat(session, enrolment.class_id)
    await outbox.add(
        session,
        TrainingDropped(enrolment_id=str(enrolment.id), voucher_id=enrolment.voucher_id,
                        person_key=enrolment.person_key, reason=data.reason),
        partition_key=enrolment.person_key,
        subject=str(enrolment.id),
    )
    await record(session, principal, "enrolment.drop", "enrolment", str(enrolment.id),  # P10
                 before=dict(status="active", class_id=enrolment.class_id),
                 after=dict(status=enrolment.status, drop_reason=data.reason), reason=data.reason)
    return Outcome(enrolment, 200)


async def _follow_up_target(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, enrolment_id: uuid.UUID
) -> tuple[Enrolment, TrainingClass]:
    enrolment = await enrolment_for(session, principal, enrolment_id)
    training_class = await session.get(TrainingClass, enrolment.class_id)
    assert training_class is not None
    if training_class.status == "closed":
        raise Problem(409, "follow_up_closed", "the class closed its follow-up window and reported its outcome")
    if enrolment.status != "completed" or enrolment.completed_on is None:
        raise Problem(409, "enrolment_not_completed", "follow-up is recorded for trainees who completed")
    return enrolment, training_class


def _check_window(settings: TrainingSettings, training_class: TrainingClass, enrolment: Enrolment, day, what: str) -> None:
    assert enrolment.completed_on is not None
    last = add_months(enrolment.completed_on, settings.follow_up_months)
    if day > local_date(clock.now()):
        raise Problem(422, f"{what}_in_future", f"{what} date {day} is in the future")
    if not training_class.start_date <= day <= last:
        raise Problem(
            422, "follow_up_out_of_window",
            f"{what} on {day} is outside the follow-up window {training_class.start_date} to {last} "
            f"({settings.follow_up_months} months after completion)",
        )


async def record_employment(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, enrolment_id: uuid.UUID, data: EmploymentIn
) -> Outcome:
    enrolment, training_class = await _follow_up_target(session, settings, principal, enrolment_id)
    if enrolment.employed_on is not None:
        raise Problem(409, "employment_already_recorded", "the trainee's employment is already recorded")
    _check_window(settings, training_class, enrolment, data.employed_on, "employment")
    credit = credit_code_or_problem(data.employer_credit_code, "employer_credit_code") if data.employer_credit_code else None
    enrolment.employer = data.employer
    enrolment.employer_credit_code = credit
    enrolment.employed_on = data.employed_on
    enrolment.contract_months = data.contract_months
    enrolment.employment_recorded_by = principal.subject
    enrolment.updated_at = utcnow()
    await outbox.add(
        session,
        TrainingEmploymentRecorded(
            enrolment_id=str(enrolment.id), voucher_id=enrolment.voucher_id, person_key=enrolment.person_key,
            employer=data.employer, employer_credit_code=credit, employed_on=data.employed_on,
            contract_months=data.contract_months,
        ),
        partition_key=enrolment.person_key,
        subject=str(enrolment.id),
    )
    return Outcome(enrolment, 200)


async def record_licence(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, enrolment_id: uuid.UUID, data: LicenceIn
) -> Outcome:
    enrolment, training_class = await _follow_up_target(session, settings, principal, enrolment_id)
    if training_class.kind != VoucherKind.ENTREPRENEURSHIP:
        raise Problem(422, "not_entrepreneurship_class", "business licences are followed up for entrepreneurship trainees (S6)")
    if enrolment.licensed_on is not None:
        raise Problem(409, "licence_already_recorded", "the trainee's business licence is already recorded")
    _check_window(settings, training_class, enrolment, data.licensed_on, "licence")
    credit = credit_code_or_problem(data.credit_code)
    enrolment.licence_credit_code = credit
    enrolment.licensed_on = data.licensed_on
    enrolment.licence_recorded_by = principal.subject
    enrolment.updated_at = utcnow()
    await outbox.add(
        session,
        TrainingBusinessLicensed(enrolment_id=str(enrolment.id), voucher_id=enrolment.voucher_id,
                                 person_key=enrolment.person_key, credit_code=credit, licensed_on=data.licensed_on),
        partition_key=enrolment.person_key,
        subject=str(enrolment.id),
    )
    await _report_again(session, settings, training_class, principal)
    return Outcome(enrolment, 200)


async def report_outcome(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID
) -> Outcome:
    """Reports the class's rates (S2 employment, S6 pass and licence) and closes its follow-up window — except an
    entrepreneurship class inside its six-month licence window (S6): its pass rate is reported at once, so the first
    part of the subsidy need not wait for the follow-up, and the window stays open (the class too); each licence
    recorded then reports again, and the report after the window's last day (this endpoint, or the periodic job
    `close_due_s6_windows`) closes it.

    employment rate = employed / trainees who completed; pass rate = passed / trainees who attended at least one
    day; licence rate = passed trainees licensed within six months of completion / passed.
    """
    training_class = await class_for(session, principal, class_id)
    if training_class.status != "open":
        raise Problem(409, f"class_{training_class.status}", f"the class is {training_class.status}; no outcome to report")
    enrolments = (await session.scalars(select(Enrolment).where(Enrolment.class_id == training_class.id,
                                                                Enrolment.status != "rejected"))).all()
    unfinished = [e for e in enrolments if e.status in ("pending", "active")]
    if unfinished:
        raise Problem(409, "class_has_unfinished_trainees",
                      f"{len(unfinished)} trainees are still pending or active: complete or drop them first")
    payload = await _outcome_payload(session, settings, training_class, enrolments, local_date(clock.now()))
    await _write_outcome(session, training_class, payload, principal.subject)
    if not payload.follow_up_open:
        await record(session, principal, "class.report_outcome", "training_class", str(training_class.id),  # P10
                     before=dict(status="open"), after=dict(status="closed", outcome=training_class.outcome))
    return Outcome(training_class, 200)


async def _outcome_payload(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
                           enrolments, today) -> ClassOutcomeReported:
    attended_ids = set(
        (await session.scalars(select(CheckIn.enrolment_id).where(CheckIn.class_id == training_class.id).distinct())).all()
    )
    completed = [e for e in enrolments if e.status == "completed"]
    attended = [e for e in enrolments if e.id in attended_ids]
    employed = [e for e in completed if e.employed_on is not None]
    passed = [e for e in completed if e.passed]
    licensed = [e for e in passed if e.licensed_on is not None]  # only dates inside the window are accepted
    closes_on = None
    if training_class.kind == VoucherKind.ENTREPRENEURSHIP and completed:
        # S6: six months from the class's completion (its last trainee's completion day).
        closes_on = add_months(max(e.completed_on for e in completed), settings.follow_up_months)
    return ClassOutcomeReported(
        class_id=str(training_class.id),
        institution_id=str(training_class.institution_id),
        kind=training_class.kind,
        trainees_completed=len(completed),
        trainees_attended=len(attended),
        employed=len(employed),
        passed=len(passed),
        licensed_within_six_months=len(licensed),
        employment_rate=rate(len(employed), len(completed)),
        pass_rate=rate(len(passed), len(attended)),
        licence_rate=rate(len(licensed), len(passed)),
        follow_up_open=closes_on is not None and today <= closes_on,
        follow_up_closes_on=closes_on,
    )


async def _write_outcome(session: AsyncSession, training_class: TrainingClass, payload: ClassOutcomeReported,
                         subject: str) -> None:
    if not payload.follow_up_open:
        training_class.status = "closed"
        training_class.closed_at = utcnow()
        training_class.closed_by = subject
    training_class.outcome = payload.model_dump(mode="json", exclude={"class_id", "institution_id", "kind"})
    await outbox.add(session, payload, partition_key=str(training_class.id), subject=str(training_class.id))


async def _report_again(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
                        principal: Principal) -> None:
    """S6: a licence recorded while the class's window is open reports the rates again (the 20 % part becomes
    eligible the moment licences reach the gate)."""
    if training_class.outcome is None or not training_class.outcome.get("follow_up_open"):
        return
    enrolments = (await session.scalars(select(Enrolment).where(Enrolment.class_id == training_class.id,
                                                                Enrolment.status != "rejected"))).all()
    await session.flush()
    payload = await _outcome_payload(session, settings, training_class, enrolments, local_date(clock.now()))
    await _write_outcome(session, training_class, payload, principal.subject)


async def close_due_windows(session: AsyncSession, settings: TrainingSettings, today: date) -> int:
    """S6: entrepreneurship classes whose licence window has passed report their final rates and close (the
    periodic job, jobs/s6_windows.py). Returns how many classes it closed."""
    closed = 0
    classes = (await session.scalars(
        select(TrainingClass).where(TrainingClass.status == "open",
                                    TrainingClass.kind == VoucherKind.ENTREPRENEURSHIP)
        .order_by(TrainingClass.id).with_for_update())).all()
    for training_class in classes:
        outcome = training_class.outcome or {}
        closes_on = outcome.get("follow_up_closes_on")
        if not outcome.get("follow_up_open") or closes_on is None or date.fromisoformat(closes_on) >= today:
            continue
        enrolments = (await session.scalars(select(Enrolment).where(Enrolment.class_id == training_class.id,
                                                                    Enrolment.status != "rejected"))).all()
        payload = await _outcome_payload(session, settings, training_class, enrolments, today)
        if payload.follow_up_open:  # a completion corrected later moved the window: still open
            continue
        await _write_outcome(session, training_class, payload, S6_WINDOW_CLOSER)
        await record(session, SYSTEM, "class.report_outcome", "training_class", str(training_class.id),  # P10
                     before=dict(status="open"), after=dict(status="closed", outcome=training_class.outcome))
        closed += 1
    return closed
