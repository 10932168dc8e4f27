"""P1: records sent to the province real-name training system and the province's verdicts.

A class record is one submission. Everything about trainees goes as sheets of a class, each one submission
(`realname_submissions` row, `enrolment_id` empty, keyed by the class): the trainees one consumer batch bound in
the class, the completions one request recorded, the check-ins one request recorded for a day. The province
answers an attendance sheet as one record, and a trainee or completion sheet with a verdict per line; the sheet's
lines are kept on its row so that an answer naming anything else is refused as not ours.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Row, String, Uuid, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import sealed
from skillkit.contracts.province import (
    AttendanceLine,
    CertificateLine,
    CompletionLine,
    LineVerdict,
    RealnameAnswered,
    RealnameSubmitted,
    SealedIdentity,
    TraineeLine,
    identity_aad,
)
from skillkit.county import COUNTY_CODE
from skillkit.db import utcnow
from skillkit.events import Envelope
from skillkit.pii import PiiCipher, cipher_for

from training_service.adapters.locks import lock_enrolments
from training_service.adapters.models import (
    Enrolment,
    Institution,
    OccupationLevel,
    RealnameNotice,
    RealnameSubmission,
    TrainingClass,
)
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings

log = logging.getLogger("training_service.province")

class UnknownSubmission(LookupError):
    """An answer to a submission this county never sent: dead-lettered by the consumer, never stored."""


async def class_record(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass) -> Event | None:
    """Adds the submission row of a class record and returns its event (to be written by the caller); None when
    the feed is off. It carries what the province files a class with: the institution's name and credit code
    (GB 32100), venue, teachers, planned hours and the occupation standard's minimum hours for the level."""
    if not settings.province_realname_enabled:
        return None
    institution = await session.get(Institution, training_class.institution_id)
    level = (await session.get(OccupationLevel, (training_class.occupation_code, training_class.level))
             if training_class.level is not None else None)
    hours = settings.province_class_hours_per_day
    submission = _submission(session, "class", training_class)
    payload = RealnameSubmitted(
        **_common(submission, training_class), start_date=training_class.start_date,
        end_date=training_class.end_date, planned_days=training_class.planned_days,
        institution_name=institution.name if institution else None,
        institution_credit_code=institution.credit_code if institution else None,
        venue=training_class.venue, teachers=list(training_class.teachers or []),
        planned_hours=training_class.planned_days * hours,
        standard_hours=level.min_training_days * hours if level is not None else None)
    return _event(payload, training_class, submission)


async def submit_class(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass) -> None:
    event = await class_record(session, settings, training_class)
    if event is not None:
        await outbox.add(session, event[0], partition_key=event[1], subject=event[2])


def sealed_identity(settings: TrainingSettings, enrolment: Enrolment, cipher: PiiCipher | None = None,
                    name: str | None = None) -> SealedIdentity:
    """The trainee's name and resident ID number sealed for the province only (its public key and key id from
    the settings), bound to the line (enrolment id and person key)."""
    cipher = cipher or cipher_for(settings)
    plaintext = json.dumps({"name": name or enrolment.trainee_name,
                            "id_number": cipher.decrypt(enrolment.id_number_encrypted)},
                           ensure_ascii=False, separators=(",", ":")).encode()
    return SealedIdentity(**sealed.seal(settings.province_public_key, settings.province_key_id, plaintext,
                                        identity_aad(str(enrolment.id), enrolment.person_key)))


def trainee_sheet(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
                  enrolments: Sequence[Enrolment]) -> Event | None:
    """One trainee sheet of the class: the given enrolments (just bound), in the given order, each with its
    identity sealed for the province; marks each one `submitted`. None when the feed is off or there is no
    line."""
    if not settings.province_realname_enabled or not enrolments:
        return None
    cipher = cipher_for(settings)
    lines = [TraineeLine(enrolment_id=str(e.id), person_key=e.person_key, identity=sealed_identity(settings, e, cipher))
             for e in enrolments]
    for enrolment in enrolments:
        enrolment.province_status = "submitted"
    return _sheet(session, "trainee", training_class, lines, trainees=lines)


def completion_sheet(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
                     enrolments: Sequence[Enrolment]) -> Event | None:
    """One completion sheet of the class: the given enrolments (just completed), in the given order; marks each
    completion `submitted`. None when the feed is off or there is no line."""
    if not settings.province_realname_enabled or not enrolments:
        return None
    lines = [_completion_line(e) for e in enrolments]
    for enrolment in enrolments:
        enrolment.completion_province_status = "submitted"
    return _sheet(session, "completion", training_class, lines, completions=lines)


def _completion_line(e: Enrolment) -> CompletionLine:
    return CompletionLine(enrolment_id=str(e.id), person_key=e.person_key, attended_days=e.attended_days or 0,
                          passed=bool(e.passed))


def certificate_sheet(session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
                      lines: Sequence[CertificateLine]) -> Event | None:
    """A certificate record of the class: the certificates one event reported (P1: the record's end)."""
    if not settings.province_realname_enabled or not lines:
        return None
    return _sheet(session, "certificate", training_class, lines, certificates=lines)


def _sheet(session: AsyncSession, record_type: str, training_class: TrainingClass,
           lines: Sequence[TraineeLine | CompletionLine | CertificateLine], **sheet) -> Event:
    submission = _submission(session, record_type, training_class, lines)
    return _event(RealnameSubmitted(**_common(submission, training_class), **sheet), training_class, submission)


def _event(payload: RealnameSubmitted, training_class: TrainingClass, submission: RealnameSubmission) -> Event:
    """Keyed by the class, so a class's records reach the province in the order they were sent. The payload is
    kept on the row: a re-send after a timeout sends exactly it again."""
    submission.payload = payload.model_dump(mode="json", exclude_none=True)
    return payload, str(training_class.id), str(submission.id)


def _submission(session: AsyncSession, record_type: str, training_class: TrainingClass,
                lines: Sequence[TraineeLine | CompletionLine | CertificateLine] | None = None,
                day: date | None = None) -> RealnameSubmission:
    now = utcnow()
    ident = uuid.uuid4()
    submission = RealnameSubmission(
        id=ident, record_id=ident, version=1, record_type=record_type, class_id=str(training_class.id), day=day,
        status="submitted", created_at=now, last_sent_at=now, attempts=1,
        lines=[[line.enrolment_id, line.person_key] for line in lines] if lines else None,
    )
    session.add(submission)
    return submission


def attendance_sheets(
    session: AsyncSession, settings: TrainingSettings, training_class: TrainingClass,
    lines_by_day: dict[date, list[AttendanceLine]],
) -> list[Event]:
    """One sheet per day (in day order) of the newly recorded check-ins, each line with its method and P8
    evidence reference; keyed by the class."""
    if not settings.province_realname_enabled:
        return []
    events: list[Event] = []
    for day in sorted(lines_by_day):
        submission = _submission(session, "attendance", training_class, day=day)
        payload = RealnameSubmitted(**_common(submission, training_class), day=day, attendance=lines_by_day[day])
        events.append(_event(payload, training_class, submission))
    return events


def _common(submission: RealnameSubmission, training_class: TrainingClass) -> dict:
    return dict(
        submission_id=str(submission.record_id),
        version=submission.version,
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
_notices = RealnameNotice.__table__
# Built once with bind parameters (named apart from the columns, as SQLAlchemy requires): their compiled cache serves
# every batch. The records answered are read with all their versions by an array on PostgreSQL (one SQL text for
# any batch size), by an expanding IN on SQLite. The verdicts are stored by executemany; the condition stays in the
# UPDATE, so the newest verdict stands even if the version was answered between the read and the write.
_SENT = {
    postgres: select(_submissions.c.id, _submissions.c.record_id, _submissions.c.version, _submissions.c.record_type,
                     _submissions.c.class_id, _submissions.c.enrolment_id, _submissions.c.lines,
                     _submissions.c.answered_at)
    .where(_submissions.c.record_id == any_(bindparam("b_ids", type_=ARRAY(Uuid))) if postgres
           else _submissions.c.record_id.in_(bindparam("b_ids", expanding=True)))
    for postgres in (True, False)
}
# The province's notices on the records answered: a line it withdrew or found trained elsewhere is not marked
# again by an answer to the same (or an older) version arriving late.
_NOTICED = {
    postgres: select(_notices.c.record_id, _notices.c.enrolment_id, _notices.c.version)
    .where(_notices.c.record_id == any_(bindparam("b_ids", type_=ARRAY(String))) if postgres else _notices.c.record_id.in_(bindparam("b_ids", expanding=True)))
    for postgres in (True, False)
}
_STORE_VERDICT = (
    update(_submissions)
    .where(_submissions.c.id == bindparam("b_id"),
           or_(_submissions.c.answered_at.is_(None), _submissions.c.answered_at <= bindparam("b_time")))
    .values(status=bindparam("b_status"), reason=bindparam("b_reason"), detail=bindparam("b_detail"),
            answered_at=bindparam("b_time"), line_verdicts=bindparam("b_lines"))
)
# A trainee verdict and a completion verdict mark different columns of the enrolment (both count for the subsidy).
# Enrolments are marked in id order, the service's one lock order for them (adapters/locks.py).
_MARK = {
    "trainee": update(_enrolments).where(_enrolments.c.id == bindparam("b_id"))
    .values(province_status=bindparam("b_status"), province_reason=bindparam("b_reason"),
            province_detail=bindparam("b_detail"), updated_at=bindparam("b_now")),
    "completion": update(_enrolments).where(_enrolments.c.id == bindparam("b_id"))
    .values(completion_province_status=bindparam("b_status"), completion_province_reason=bindparam("b_reason"),
            completion_province_detail=bindparam("b_detail"), updated_at=bindparam("b_now")),
}
_PENDING = "training_service.pending_verdicts"


def _params(verdict: RealnameAnswered | LineVerdict) -> dict:
    return {"b_status": str(verdict.verdict), "b_reason": str(verdict.reason) if verdict.reason else None,
            "b_detail": verdict.detail}


@dataclass(frozen=True)
class _Verdict:
    record_id: uuid.UUID
    answer: RealnameAnswered
    time: datetime

    @property
    def version(self) -> int:
        return self.answer.version or 1

    @property
    def key(self) -> tuple[uuid.UUID, int, str, str]:
        return self.record_id, self.version, self.answer.record_type, self.answer.class_id


async def on_answered(session: AsyncSession, envelope: Envelope) -> None:
    """Collected; the consumer batch's verdicts are stored together by `store_verdicts` (its before_commit)."""
    answer: RealnameAnswered = envelope.payload
    try:
        record_id = uuid.UUID(answer.submission_id)
    except ValueError as exc:
        raise UnknownSubmission(f"submission id {answer.submission_id!r} is not one of ours") from exc
    session.info.setdefault(_PENDING, []).append(_Verdict(record_id, answer, envelope.time))


async def store_verdicts(session: AsyncSession) -> None:
    """Stores each verdict on the version it answers (a sheet's verdict is the sheet's, its lines' verdicts kept
    as the version's history); the lines of a trainee or completion sheet's answer mark their enrolments (a record
    sent alone before sheets: its own verdict does) — unless a newer version of the record carries that line (the
    institution corrected it: its answer decides) or the province has since sent a notice on it. The newest
    verdict on a version (by event time) stands, as in the subsidy chain; of equal times the later one, as one by
    one. An answer to a record or version never sent, not matching its record type and class, or whose lines are
    not exactly the version's (a sheet answered without lines, a line not on it, a line missing or twice; lines on
    a record that is no sheet) fails the batch (the kit then retries record by record and dead-letters that one).
    Statements per batch: one SELECT of the records answered (all versions), one of their notices, one UPDATE of
    the versions and one per kind of mark (trainee, completion) of the enrolments (executemany); a row lock in id
    order when both kinds are marked."""
    verdicts: list[_Verdict] = session.info.pop(_PENDING, [])
    if not verdicts:
        return
    await session.flush()  # notices handled earlier in the batch are read below
    connection = await session.connection()
    postgres = connection.dialect.name == "postgresql"
    record_ids = list({v.record_id for v in verdicts})
    versions: dict[uuid.UUID, dict[int, Row]] = {}
    for row in await connection.execute(_SENT[postgres], {"b_ids": record_ids}):
        versions.setdefault(row.record_id, {})[row.version] = row
    for verdict in verdicts:  # every answer of the batch, also one a newer answer overrides: a stray is not ours
        _check(versions.get(verdict.record_id, {}).get(verdict.version), verdict.answer)
    noticed: dict[tuple[str, str], int] = {}  # (record id, enrolment id) -> the highest version noticed
    for row in await connection.execute(_NOTICED[postgres], {"b_ids": [str(r) for r in record_ids]}):
        key = (row.record_id, row.enrolment_id)
        noticed[key] = max(noticed.get(key, 0), row.version)
    newest: dict[tuple[uuid.UUID, int, str, str], _Verdict] = {}
    for verdict in verdicts:
        if verdict.key not in newest or newest[verdict.key].time <= verdict.time:
            newest.pop(verdict.key, None)  # re-inserted: the winners stay in batch order
            newest[verdict.key] = verdict
    stored = [v for v in newest.values() if _newer(versions[v.record_id][v.version], v)]
    if not stored:
        return
    await connection.execute(_STORE_VERDICT, [
        {"b_id": versions[v.record_id][v.version].id, "b_time": v.time, **_params(v.answer),
         "b_lines": {line.enrolment_id: [str(line.verdict), line.reason and str(line.reason), line.detail]
                     for line in v.answer.lines} if v.answer.lines else None}
        for v in stored])
    marks: dict[str, dict[str, dict]] = {"trainee": {}, "completion": {}}  # per enrolment, in batch order: the last stands
    for v in stored:
        of_kind = marks.get(v.answer.record_type)
        if of_kind is None:
            continue  # class, attendance and certificate verdicts are the version's only
        row = versions[v.record_id][v.version]
        if v.answer.lines:
            for line in v.answer.lines:
                if not _superseded(versions[v.record_id], v.version, line.enrolment_id, noticed, str(v.record_id)):
                    of_kind[line.enrolment_id] = _params(line)
        elif row.enrolment_id:
            of_kind[row.enrolment_id] = _params(v.answer)
    now = utcnow()
    if all(marks.values()):  # two sorted statements would interleave: both kinds' rows are locked in order first
        await lock_enrolments(connection, (uuid.UUID(e) for m in marks.values() for e in m))
    for record_type, of_kind in marks.items():
        if of_kind:
            await connection.execute(_MARK[record_type], sorted(
                ({"b_id": uuid.UUID(enrolment_id), "b_now": now, **params} for enrolment_id, params in of_kind.items()),
                key=lambda row: row["b_id"]))


def _superseded(versions: dict[int, Row], version: int, enrolment_id: str, noticed: dict[tuple[str, str], int],
                record_id: str) -> bool:
    """Whether a line's verdict on `version` no longer decides: a newer version of the record carries the line
    (a correction), or the province sent a notice on it at this version or a newer one."""
    if noticed.get((record_id, enrolment_id), 0) >= version:
        return True
    return any(v > version and row.lines and any(line[0] == enrolment_id for line in row.lines)
               for v, row in versions.items())


def _check(submission: Row | None, answer: RealnameAnswered) -> None:
    """Refuses an answer that is not to something this county sent (UnknownSubmission)."""
    if submission is None:
        raise UnknownSubmission(f"submission {answer.submission_id} version {answer.version or 1} was never sent")
    if submission.record_type != answer.record_type or submission.class_id != answer.class_id:
        raise UnknownSubmission(f"answer to {answer.submission_id} does not match the submitted record")
    if submission.lines is None:
        if answer.lines:
            raise UnknownSubmission(f"answer to {answer.submission_id} has lines, but the record is no sheet")
        return
    if not answer.lines:
        raise UnknownSubmission(f"answer to sheet {answer.submission_id} has no lines")
    on_sheet = dict(map(tuple, submission.lines))  # enrolment id -> person key
    answered = [(line.enrolment_id, line.person_key) for line in answer.lines]
    if any(on_sheet.get(enrolment_id) != key for enrolment_id, key in answered):
        raise UnknownSubmission(f"answer to sheet {answer.submission_id} names a line that is not on the sheet")
    if len(answered) != len(on_sheet) or len(set(answered)) != len(answered):
        raise UnknownSubmission(f"answer to sheet {answer.submission_id} does not answer each of its "
                                f"{len(on_sheet)} lines once")


def _newer(submission: Row, verdict: _Verdict) -> bool:
    """Whether the verdict is to be stored: an older verdict arriving late is not (fine)."""
    if submission.answered_at is not None and submission.answered_at > verdict.time:
        log.info("an older verdict arrived after a newer one; the newer stands",
                 extra={"submission_id": verdict.answer.submission_id, "time": verdict.time.isoformat()})
        return False
    return True
