"""P1: records sent to the province real-name training system and the province's verdicts."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.province import RealnameAnswered, RealnameSubmitted
from skillkit.county import COUNTY_CODE
from skillkit.db import utcnow
from skillkit.events import Envelope

from training_service.adapters.models import Enrolment, RealnameSubmission, TrainingClass
from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings

log = logging.getLogger("training_service.province")


class UnknownSubmission(LookupError):
    """An answer to a submission this county never sent: dead-lettered by the consumer, never stored."""


async def submit(
    session: AsyncSession,
    settings: TrainingSettings,
    record_type: str,
    training_class: TrainingClass,
    enrolment: Enrolment | None = None,
    *,
    day: date | None = None,
) -> RealnameSubmission | None:
    if not settings.province_realname_enabled:
        return None
    submission = RealnameSubmission(
        id=uuid.uuid4(),
        record_type=record_type,
        class_id=str(training_class.id),
        enrolment_id=str(enrolment.id) if enrolment else None,
        status="submitted",
        created_at=utcnow(),
    )
    session.add(submission)
    completion = record_type == "completion" and enrolment is not None
    await outbox.add(
        session,
        RealnameSubmitted(
            submission_id=str(submission.id),
            record_type=record_type,
            county_code=COUNTY_CODE,
            class_id=str(training_class.id),
            enrolment_id=str(enrolment.id) if enrolment else None,
            person_key=enrolment.person_key if enrolment else None,
            occupation_code=training_class.occupation_code,
            day=day,
            attended_days=enrolment.attended_days if completion else None,
            passed=enrolment.passed if completion else None,
            policy_year=training_class.start_date.year,
            institution_id=str(training_class.institution_id),
            kind=training_class.kind,
            level=training_class.level,
            start_date=training_class.start_date if record_type == "class" else None,
            end_date=training_class.end_date if record_type == "class" else None,
            planned_days=training_class.planned_days if record_type == "class" else None,
        ),
        partition_key=enrolment.person_key if enrolment else str(training_class.id),
        subject=str(submission.id),
    )
    if record_type == "trainee" and enrolment is not None:
        enrolment.province_status = "submitted"
    return submission


async def on_answered(session: AsyncSession, envelope: Envelope) -> None:
    answer: RealnameAnswered = envelope.payload
    try:
        submission_id = uuid.UUID(answer.submission_id)
    except ValueError as exc:
        raise UnknownSubmission(f"submission id {answer.submission_id!r} is not one of ours") from exc
    submission = await session.get(RealnameSubmission, submission_id)
    if submission is None:
        raise UnknownSubmission(f"submission {answer.submission_id} was never sent")
    if submission.record_type != answer.record_type or submission.class_id != answer.class_id:
        raise UnknownSubmission(f"answer to {answer.submission_id} does not match the submitted record")
    if submission.answered_at is not None and envelope.time < submission.answered_at:
        return  # an older verdict arriving late: the newest verdict (by event time) stands, as in the subsidy chain
    now = utcnow()
    submission.status = str(answer.verdict)
    submission.reason = str(answer.reason) if answer.reason else None
    submission.detail = answer.detail
    submission.answered_at = envelope.time
    if submission.record_type == "trainee" and submission.enrolment_id:
        enrolment = await session.get(Enrolment, uuid.UUID(submission.enrolment_id))
        if enrolment is not None:
            enrolment.province_status = submission.status
            enrolment.province_reason = submission.reason
            enrolment.province_detail = submission.detail
            enrolment.updated_at = now
