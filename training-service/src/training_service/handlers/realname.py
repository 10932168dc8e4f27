"""P1 beyond the first send: corrections (a record's next version), re-sends after a timeout and escalation,
the province's own notices, and the views of it all (a class's records and history, pipeline health).

A correction is the same record (`record_id`, the wire's `submission_id`) in its next version, carrying only the
corrected line; the province answers each version, and a line's newest version decides (handlers/province.py).
A re-send repeats a version unchanged (the payload kept on its row): same record id, same version, same sealed
identity — the province answers it as a duplicate."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.contracts.province import RealnameNotified, RealnameSubmitted, TraineeLine
from skillkit.db import utcnow
from skillkit.events import Envelope
from skillkit.pii import mask_name
from skillkit.problems import Problem

from training_service.adapters.models import Enrolment, RealnameNotice, RealnameSubmission, TrainingClass
from training_service.adapters.outbox import outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import RealnameCorrectionIn
from training_service.handlers import province
from training_service.handlers.common import class_for, enrolment_for
from training_service.handlers.province import UnknownSubmission

log = logging.getLogger("training_service.realname")

CORRECTABLE = ("rejected", "withdrawn")

# The ops dashboard's view of the feed (deploy/grafana): re-sends and escalations as they happen, and the versions
# unanswered by state as of the re-send job's last run (jobs/province_resend.py).
RESENT = Counter("province_realname_resent_total", "Province record versions re-sent after the answer timeout",
                 ["record_type"])
ESCALATED = Counter("province_realname_escalated_total", "Province record versions escalated after the last attempt",
                    ["record_type"])


def _line_status(enrolment: Enrolment, record_type: str) -> str | None:
    return enrolment.province_status if record_type == "trainee" else enrolment.completion_province_status


async def resubmit(session: AsyncSession, settings: TrainingSettings, principal: Principal, enrolment_id: uuid.UUID,
                   data: RealnameCorrectionIn) -> RealnameSubmission:
    """The institution corrects a rejected (or withdrawn) line and sends it again as the next version of the
    record it was on. A trainee line is sealed anew (with the corrected name when one is given); a completion
    line carries the enrolment's completion as it stands. P10: the version keeps who sent it and why."""
    enrolment = await enrolment_for(session, principal, enrolment_id)
    if not settings.province_realname_enabled:
        raise Problem(409, "realname_feed_off", "the province real-name feed is turned off")
    status = _line_status(enrolment, data.record_type)
    if status not in CORRECTABLE:
        raise Problem(409, "realname_not_correctable",
                      f"the {data.record_type} record of this enrolment is {status or 'not sent'}: only a rejected "
                      "or withdrawn line is corrected and sent again")
    rows = (await session.scalars(select(RealnameSubmission).where(
        RealnameSubmission.class_id == str(enrolment.class_id), RealnameSubmission.record_type == data.record_type)
        .order_by(RealnameSubmission.record_id, RealnameSubmission.version))).all()
    carrying = [r for r in rows if r.lines and any(line[0] == str(enrolment.id) for line in r.lines)]
    if not carrying:  # a record sent alone before sheets (no lines): not versioned
        raise Problem(409, "realname_not_correctable", "this record was sent before record versions")
    record_id = carrying[-1].record_id
    # Versions of one record are numbered one after the other: the record's first row is locked, so two
    # corrections of lines of one sheet at the same moment take versions one after the other.
    await session.execute(select(RealnameSubmission.id).where(RealnameSubmission.id == record_id).with_for_update())
    version = (await session.scalar(select(func.max(RealnameSubmission.version))
                                    .where(RealnameSubmission.record_id == record_id))) + 1
    training_class = await session.get(TrainingClass, enrolment.class_id)
    assert training_class is not None
    now = utcnow()
    before = {"status": status, "reason": (enrolment.province_reason if data.record_type == "trainee"
                                           else enrolment.completion_province_reason),
              "trainee_name": mask_name(enrolment.trainee_name)}
    if data.record_type == "trainee":
        if data.trainee_name is not None:
            enrolment.trainee_name = data.trainee_name
        line = TraineeLine(enrolment_id=str(enrolment.id), person_key=enrolment.person_key,
                           identity=province.sealed_identity(settings, enrolment))
        sheet = {"trainees": [line]}
        enrolment.province_status, enrolment.province_reason, enrolment.province_detail = "submitted", None, None
    else:
        line = province._completion_line(enrolment)
        sheet = {"completions": [line]}
        enrolment.completion_province_status = "submitted"
        enrolment.completion_province_reason = enrolment.completion_province_detail = None
    enrolment.updated_at = now
    row = RealnameSubmission(
        id=uuid.uuid4(), record_id=record_id, version=version, record_type=data.record_type,
        class_id=str(training_class.id), lines=[[line.enrolment_id, line.person_key]], status="submitted",
        created_at=now, last_sent_at=now, attempts=1, created_by=principal.subject, note=data.note)
    session.add(row)
    payload = RealnameSubmitted(**province._common(row, training_class), correction_note=data.note, **sheet)
    event = province._event(payload, training_class, row)
    await outbox.add(session, event[0], partition_key=event[1], subject=event[2])
    await record(session, principal, f"realname.resubmit_{data.record_type}", "enrolment", str(enrolment.id),
                 before=before, after={"status": "submitted", "submission_id": str(record_id), "version": version,
                                       "trainee_name": mask_name(enrolment.trainee_name)},
                 reason=data.note)  # P10 (names masked: the audit log is read by auditors)
    return row


async def resend_overdue(session: AsyncSession, settings: TrainingSettings, now: datetime,
                         limit: int = 500) -> tuple[int, int]:
    """Every version unanswered `province_answer_timeout_seconds` after it was last sent is sent again — its kept
    payload, the same record id and version — until it was sent `province_max_attempts` times; then it is
    escalated (pipeline health, the class's view) and not sent again. Returns (re-sent, escalated). Rows are taken
    in id order and skipped when another replica holds them. The periodic job: jobs/province_resend.py."""
    cutoff = now - timedelta(seconds=settings.province_answer_timeout_seconds)
    resent = escalated = 0
    rows = (await session.scalars(
        select(RealnameSubmission)
        .where(RealnameSubmission.answered_at.is_(None), RealnameSubmission.escalated_at.is_(None),
               RealnameSubmission.payload.is_not(None), RealnameSubmission.last_sent_at < cutoff)
        .order_by(RealnameSubmission.id).limit(limit).with_for_update(skip_locked=True))).all()
    for row in rows:
        if row.attempts >= settings.province_max_attempts:
            row.escalated_at = now
            escalated += 1
            ESCALATED.labels(row.record_type).inc()
            log.warning("a province record is unanswered after every attempt: escalated",
                        extra={"submission_id": str(row.record_id), "version": row.version,
                               "record_type": row.record_type, "class_id": row.class_id,
                               "attempts": row.attempts})
            continue
        row.attempts += 1
        row.last_sent_at = now
        await outbox.add(session, RealnameSubmitted.model_validate(row.payload), partition_key=row.class_id,
                         subject=str(row.id))
        resent += 1
        RESENT.labels(row.record_type).inc()
    return resent, escalated


async def on_notified(session: AsyncSession, envelope: Envelope) -> None:
    """The province's own message about a line of a record it answered (P1): kept as history, and it marks the
    line's enrolment — trained elsewhere: rejected with the reason; withdrawn: withdrawn — unless the line was
    corrected since (a newer version carries it: that version's answer decides). A message about a record or
    line this county never sent is not ours (dead-lettered). The same notice delivered again changes nothing."""
    notice: RealnameNotified = envelope.payload
    version = notice.version or 1
    try:
        record_id = uuid.UUID(notice.submission_id)
    except ValueError as exc:
        raise UnknownSubmission(f"submission id {notice.submission_id!r} is not one of ours") from exc
    rows = {r.version: r for r in (await session.scalars(
        select(RealnameSubmission).where(RealnameSubmission.record_id == record_id))).all()}
    sent = rows.get(version)
    if (sent is None or sent.record_type != notice.record_type or sent.class_id != notice.class_id
            or notice.record_type not in ("trainee", "completion")
            or [notice.enrolment_id, notice.person_key] not in (sent.lines or [])):
        raise UnknownSubmission(f"notice {notice.notice_id} is about a line this county never sent")
    if await session.get(RealnameNotice, notice.notice_id) is not None:
        return
    session.add(RealnameNotice(
        id=notice.notice_id, notice=str(notice.notice), record_id=str(record_id), version=version,
        record_type=notice.record_type, class_id=notice.class_id, enrolment_id=notice.enrolment_id,
        reason=str(notice.reason) if notice.reason else None, detail=notice.detail,
        other_county_code=notice.other_county_code, notified_at=envelope.time, received_at=utcnow()))
    if any(v > version and any(line[0] == notice.enrolment_id for line in (r.lines or [])) for v, r in rows.items()):
        log.info("a notice on a line corrected since: history only", extra={"notice_id": notice.notice_id})
        return
    enrolment = await session.get(Enrolment, uuid.UUID(notice.enrolment_id))
    if enrolment is None:
        return
    status = "withdrawn" if notice.notice == "withdrawn" else "rejected"
    reason = str(notice.reason) if notice.reason else str(notice.notice)
    if notice.record_type == "trainee":
        enrolment.province_status, enrolment.province_reason, enrolment.province_detail = status, reason, notice.detail
    else:
        enrolment.completion_province_status = status
        enrolment.completion_province_reason, enrolment.completion_province_detail = reason, notice.detail
    enrolment.updated_at = utcnow()


# --- views -------------------------------------------------------------------------------------------------------

def version_view(row: RealnameSubmission, enrolment_id: str | None = None) -> dict:
    """One version of a record: sent when, how often, the answer (for one line when `enrolment_id` is given)."""
    line = (row.line_verdicts or {}).get(enrolment_id) if enrolment_id else None
    return {
        "submission_id": str(row.record_id), "version": row.version, "record_type": row.record_type,
        "day": row.day, "lines": len(row.lines) if row.lines else None,
        "status": line[0] if line else row.status, "reason": line[1] if line else row.reason,
        "detail": line[2] if line else row.detail,
        "sent_at": row.created_at, "last_sent_at": row.last_sent_at, "attempts": row.attempts,
        "answered_at": row.answered_at, "escalated_at": row.escalated_at,
        "corrected_by": row.created_by, "note": row.note,
    }


def notice_view(n: RealnameNotice) -> dict:
    return {"notice_id": n.id, "notice": n.notice, "submission_id": n.record_id, "version": n.version,
            "record_type": n.record_type, "enrolment_id": n.enrolment_id, "reason": n.reason, "detail": n.detail,
            "other_county_code": n.other_county_code, "notified_at": n.notified_at}


async def class_records(session: AsyncSession, principal: Principal, class_id: uuid.UUID) -> dict:
    """The class's view of its province records: every record with its versions in order (sent, re-sent,
    answered, escalated, corrected by whom and why), the notices, and the counts that need attention."""
    await class_for(session, principal, class_id)
    rows = (await session.scalars(select(RealnameSubmission).where(RealnameSubmission.class_id == str(class_id))
                                  .order_by(RealnameSubmission.created_at, RealnameSubmission.record_id,
                                            RealnameSubmission.version))).all()
    records: dict[uuid.UUID, dict] = {}
    for row in rows:
        record = records.setdefault(row.record_id, {"submission_id": str(row.record_id), "record_type": row.record_type,
                                                    "day": row.day, "versions": []})
        record["versions"].append(version_view(row))
    notices = (await session.scalars(select(RealnameNotice).where(RealnameNotice.class_id == str(class_id))
                                     .order_by(RealnameNotice.notified_at, RealnameNotice.id))).all()
    return {
        "class_id": str(class_id),
        "unanswered": sum(r.answered_at is None for r in rows),
        "escalated": sum(r.escalated_at is not None and r.answered_at is None for r in rows),
        "rejected": sum(r.status == "rejected" for r in rows),
        "records": list(records.values()),
        "notices": [notice_view(n) for n in notices],
    }


async def enrolment_records(session: AsyncSession, principal: Principal, enrolment_id: uuid.UUID) -> dict:
    """One trainee's province history: every version that carried the trainee's line, with the line's own
    answer, and the notices about it."""
    enrolment = await enrolment_for(session, principal, enrolment_id)
    ident = str(enrolment.id)
    rows = (await session.scalars(select(RealnameSubmission).where(
        RealnameSubmission.class_id == str(enrolment.class_id),
        RealnameSubmission.record_type.in_(("trainee", "completion", "certificate")))
        .order_by(RealnameSubmission.created_at, RealnameSubmission.version))).all()
    versions = [version_view(r, ident) for r in rows
                if (r.lines and any(line[0] == ident for line in r.lines)) or r.enrolment_id == ident]
    notices = (await session.scalars(select(RealnameNotice).where(RealnameNotice.enrolment_id == ident)
                                     .order_by(RealnameNotice.notified_at, RealnameNotice.id))).all()
    return {"enrolment_id": ident, "versions": versions, "notices": [notice_view(n) for n in notices]}


async def pipeline_health(session: AsyncSession, settings: TrainingSettings, now: datetime | None = None) -> dict:
    """What the ops dashboard shows of the province feed: versions unanswered, overdue (past the answer
    timeout, to be re-sent), escalated (unanswered after every attempt), the oldest unanswered send, per record
    type, and the escalated versions themselves (newest first, at most 100). One grouped query and one list."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.province_answer_timeout_seconds)
    s = RealnameSubmission
    unanswered = s.answered_at.is_(None)
    escalated = s.escalated_at.is_not(None)
    counts = (await session.execute(
        select(s.record_type, func.count(),
               func.sum(case((escalated, 0), (s.last_sent_at < cutoff, 1), else_=0)),
               func.sum(case((escalated, 1), else_=0)), func.min(s.last_sent_at))
        .where(unanswered).group_by(s.record_type).order_by(s.record_type))).all()
    listed = (await session.scalars(select(s).where(unanswered, escalated)
                                    .order_by(s.escalated_at.desc(), s.id).limit(100))).all()
    by_type = {t: {"unanswered": n, "overdue": int(o or 0), "escalated": int(e or 0)} for t, n, o, e, _ in counts}
    oldest = min((first for *_, first in counts if first is not None), default=None)
    return {
        "unanswered": sum(v["unanswered"] for v in by_type.values()),
        "overdue": sum(v["overdue"] for v in by_type.values()),
        "escalated": sum(v["escalated"] for v in by_type.values()),
        "oldest_unanswered_sent_at": oldest,
        "by_record_type": by_type,
        "answer_timeout_seconds": settings.province_answer_timeout_seconds,
        "max_attempts": settings.province_max_attempts,
        "escalated_records": [{**version_view(r), "class_id": r.class_id} for r in listed],
    }
