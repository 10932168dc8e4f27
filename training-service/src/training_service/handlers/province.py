"""P1: records sent to the province real-name training system and the province's verdicts.

Trainee, class and completion records are one submission per record (the subsidy chain rests on the trainee
and completion verdicts). Attendance goes as sheets: one submission per class and day, its lines the trainees
newly recorded for that day, answered by the province as one record.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.province import AttendanceLine, RealnameAnswered, RealnameSubmitted
from skillkit.county import COUNTY_CODE
from skillkit.db import utcnow
from skillkit.events import Envelope

from training_service.adapters.models import Enrolment, RealnameSubmission, TrainingClass
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings

log = logging.getLogger("training_service.province")


class UnknownSubmission(LookupError):
    """An answer to a submission this county never sent: dead-lettered by the consumer, never stored."""


def record(
    session: AsyncSession,
    settings: TrainingSettings,
    record_type: str,
    training_class: TrainingClass,
    enrolment: Enrolment | None = None,
) -> Event | None:
    """Adds the submission row of one class, trainee or completion record and returns its event (to be written
    by the caller, alone or with others); None when the feed is off."""
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
    filing = record_type == "class"
    payload = RealnameSubmitted(
        **_common(submission, training_class),
        enrolment_id=str(enrolment.id) if enrolment else None,
        person_key=enrolment.person_key if enrolment else None,
        attended_days=enrolment.attended_days if completion else None,
        passed=enrolment.passed if completion else None,
        start_date=training_class.start_date if filing else None,
        end_date=training_class.end_date if filing else None,
        planned_days=training_class.planned_days if filing else None,
    )
    if record_type == "trainee" and enrolment is not None:
        enrolment.province_status = "submitted"
    return payload, enrolment.person_key if enrolment else str(training_class.id), str(submission.id)


async def submit(
    session: AsyncSession,
    settings: TrainingSettings,
    record_type: str,
    training_class: TrainingClass,
    enrolment: Enrolment | None = None,
) -> None:
    event = record(session, settings, record_type, training_class, enrolment)
    if event is not None:
        await outbox.add(session, event[0], partition_key=event[1], subject=event[2])


def attendance_sheets(
    session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
    lines_by_day: dict[date, list[AttendanceLine]],
) -> list[Event]:
    """One sheet per day (in day order) of the newly recorded check-ins; keyed by the class."""
    if not settings.province_realname_enabled:
        return []
    now = utcnow()
    events: list[Event] = []
    for day in sorted(lines_by_day):
        submission = RealnameSubmission(id=uuid.uuid4(), record_type="attendance", class_id=str(training_class.id),
                                        day=day, status="submitted", created_at=now)
        session.add(submission)
        payload = RealnameSubmitted(**_common(submission, training_class), day=day, attendance=lines_by_day[day])
        events.append((payload, str(training_class.id), str(submission.id)))
    return events


def _common(submission: RealnameSubmission, training_class: TrainingClass) -> dict:
    return dict(
        submission_id=str(submission.id),
        record_type=submission.record_type,
        county_code=COUNTY_CODE,
        class_id=str(training_class.id),
        occupation_code=training_class.occupation_code,
        policy_year=training_class.start_date.year,
        institution_id=str(training_class.institution_id),
        kind=training_class.kind,
        level=training_class.level,
    )


_submissions = RealnameSubmission.__table__
_enrolments = Enrolment.__table__
# Built once with bind parameters (named apart from the columns, as SQLAlchemy requires), run as executemany: its
# compiled cache serves every batch. The condition stays in the UPDATE, so the newest verdict stands even if the
# submission was answered between the read and the write.
_STORE_VERDICT = (
    update(_submissions)
    .where(_submissions.c.id == bindparam("b_id"),
           or_(_submissions.c.answered_at.is_(None), _submissions.c.answered_at <= bindparam("b_time")))
    .values(status=bindparam("b_status"), reason=bindparam("b_reason"), detail=bindparam("b_detail"),
            answered_at=bindparam("b_time"))
)
_MARK_TRAINEE = (
    update(_enrolments).where(_enrolments.c.id == bindparam("b_id"))
    .values(province_status=bindparam("b_status"), province_reason=bindparam("b_reason"),
            province_detail=bindparam("b_detail"), updated_at=bindparam("b_now"))
)
_PENDING = "training_service.pending_verdicts"


@dataclass(frozen=True)
class _Verdict:
    submission_id: uuid.UUID
    answer: RealnameAnswered
    time: datetime

    @property
    def key(self) -> tuple[uuid.UUID, str, str]:
        return self.submission_id, self.answer.record_type, self.answer.class_id

    def params(self) -> dict:
        return {"b_status": str(self.answer.verdict), "b_reason": str(self.answer.reason) if self.answer.reason else None,
                "b_detail": self.answer.detail}


async def on_answered(session: AsyncSession, envelope: Envelope) -> None:
    """Collected; the consumer batch's verdicts are stored together by `store_verdicts` (its before_commit)."""
    answer: RealnameAnswered = envelope.payload
    try:
        submission_id = uuid.UUID(answer.submission_id)
    except ValueError as exc:
        raise UnknownSubmission(f"submission id {answer.submission_id!r} is not one of ours") from exc
    session.info.setdefault(_PENDING, []).append(_Verdict(submission_id, answer, envelope.time))


async def store_verdicts(session: AsyncSession) -> None:
    """Stores each verdict on its submission (a sheet's verdict is the sheet's); a trainee verdict also marks the
    enrolment. The newest verdict (by event time) stands, as in the subsidy chain; of equal times the later one,
    as one by one. An answer to a submission never sent, or not matching its record type and class, fails the
    batch (the kit then retries record by record and dead-letters that one). Three statements per batch: one
    SELECT of the submissions answered, one UPDATE of them and one of the trainees' enrolments (executemany)."""
    verdicts: list[_Verdict] = session.info.pop(_PENDING, [])
    if not verdicts:
        return
    newest: dict[tuple[uuid.UUID, str, str], _Verdict] = {}
    for verdict in verdicts:
        if verdict.key not in newest or newest[verdict.key].time <= verdict.time:
            newest.pop(verdict.key, None)  # re-inserted: the winners stay in batch order
            newest[verdict.key] = verdict
    connection = await session.connection()
    sent = {row.id: row for row in await connection.execute(
        select(_submissions.c.id, _submissions.c.record_type, _submissions.c.class_id, _submissions.c.enrolment_id,
               _submissions.c.answered_at).where(_submissions.c.id.in_({v.submission_id for v in newest.values()})))}
    stored = [v for v in newest.values() if _newer(sent.get(v.submission_id), v)]
    if not stored:
        return
    await connection.execute(_STORE_VERDICT, [{"b_id": v.submission_id, "b_time": v.time, **v.params()} for v in stored])
    marks = {sent[v.submission_id].enrolment_id: v for v in stored  # in batch order: the last one stands
             if v.answer.record_type == "trainee" and sent[v.submission_id].enrolment_id}
    if marks:
        now = utcnow()
        await connection.execute(_MARK_TRAINEE, [{"b_id": uuid.UUID(enrolment_id), "b_now": now, **v.params()}
                                                 for enrolment_id, v in marks.items()])


def _newer(submission: Row | None, verdict: _Verdict) -> bool:
    """Whether the verdict is to be stored: an older verdict arriving late is not (fine); anything not ours fails."""
    answer = verdict.answer
    if submission is None:
        raise UnknownSubmission(f"submission {answer.submission_id} was never sent")
    if submission.record_type != answer.record_type or submission.class_id != answer.class_id:
        raise UnknownSubmission(f"answer to {answer.submission_id} does not match the submitted record")
    if submission.answered_at is not None and submission.answered_at > verdict.time:
        log.info("an older verdict arrived after a newer one; the newer stands",
                 extra={"submission_id": answer.submission_id, "time": verdict.time.isoformat()})
        return False
    return True
