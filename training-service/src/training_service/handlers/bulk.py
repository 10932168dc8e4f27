"""Bulk uploads (CSV or XLSX) of attendance, completions and follow-up.

Every row goes through the same checks as the single-record endpoint. A bad row is reported with its line
number and changes nothing (every check runs before anything is written); the good rows are applied in the
request's one transaction. Check-ins and completions are set-based: the class's trainees, their check-ins or
attended days are read once, and the good rows are written with multi-row INSERTs and one outbox INSERT; an
upload's P1 records go as sheets (one completion sheet per upload, one attendance sheet per day).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.auth import Principal
from skillkit.county import COUNTY_TZ
from skillkit.db import utcnow
from training_service import clock
from skillkit.problems import Problem
from skillkit.roster import RosterRow, read_roster

from training_service.adapters.models import CheckIn, Enrolment
from training_service.adapters.outbox import Event, outbox
from training_service.config import TrainingSettings
from training_service.handlers.inputs import CheckInIn, CompletionIn, EmploymentIn, LicenceIn
from training_service.handlers import province
from training_service.handlers.attendance import (
    NO_ATTENDANCE, NewCheckIn, attended_elsewhere, check_in_day, class_attendance, days_attended_elsewhere,
    record_check_ins,
)
from training_service.handlers.common import class_for, enrolment_for
from training_service.handlers.trainees import ClassTrainees
from training_service.handlers.training import completion_events, record_employment, record_licence

class BulkRowError(BaseModel):
    line: int
    code: str
    detail: str


class BulkOut(BaseModel):
    """What an upload did: rows applied, rows already there, and each bad row with its line and problem."""

    applied: int
    unchanged: int = 0  # e.g. a second check-in the same day
    rejected: int
    row_errors: list[BulkRowError]


CHECK_IN_COLUMNS = {"enrolment_id": "学员编号", "id_number": "身份证号", "method": "签到方式", "staff_id": "工号", "checked_at": "签到时间",
                   "evidence_ref": "证据编号"}
COMPLETION_COLUMNS = {
    "enrolment_id": "学员编号", "id_number": "身份证号", "passed": "是否合格", "theory_score": "理论成绩",
    "practical_score": "实操成绩", "completed_on": "结业日期",
}
FOLLOW_UP_COLUMNS = {
    "enrolment_id": "学员编号", "id_number": "身份证号", "employer": "就业单位", "employer_credit_code": "单位信用代码",
    "employed_on": "就业日期", "contract_months": "合同期限（月）",
    "licence_credit_code": "营业执照信用代码", "licensed_on": "领照日期",
}
METHODS = {"face": "face", "人脸": "face", "qr": "qr", "扫码": "qr", "staff": "staff", "人工": "staff"}
TRUE_WORDS = {"true", "1", "yes", "是", "合格", "通过"}
FALSE_WORDS = {"false", "0", "no", "否", "不合格", "不通过"}


def _blank_to_none(values: dict[str, str]) -> dict[str, Any]:
    return {k: (v if v != "" else None) for k, v in values.items()}


def _instant(raw: str | None) -> str | None:
    """ISO timestamps; one without a zone (as spreadsheets write them) is county time."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        return raw  # the model reports it
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COUNTY_TZ)
    return moment.isoformat()


def _day(raw: str | None) -> str | None:
    if raw is None:
        return None
    return raw.replace("/", "-").split(" ")[0].split("T")[0]


def _bool(raw: str | None) -> Any:
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return raw


def _integer(raw: str | None) -> Any:
    if raw is not None and raw.endswith(".0"):
        return raw[:-2]  # spreadsheets store 12 as 12.0
    return raw


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def row_error(row: RosterRow, exc: ValidationError | Problem) -> BulkRowError:
    if isinstance(exc, ValidationError):
        return BulkRowError(line=row.line, code="validation_failed", detail=_validation_message(exc))
    return BulkRowError(line=row.line, code=exc.code, detail=exc.detail)


async def _apply_rows(
    rows: list[RosterRow], apply: Callable[[RosterRow], Awaitable[int]]
) -> BulkOut:
    applied = unchanged = 0
    errors: list[BulkRowError] = []
    for row in rows:
        try:
            status = await apply(row)
        except (ValidationError, Problem) as exc:
            errors.append(row_error(row, exc))
            continue
        if status == 200:
            unchanged += 1
        else:
            applied += 1
    return BulkOut(applied=applied, unchanged=unchanged, rejected=len(errors), row_errors=errors)


async def bulk_check_ins(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID,
    filename: str, content: bytes,
) -> BulkOut:
    training_class = await class_for(session, principal, class_id)
    rows = await read_roster(filename, content, CHECK_IN_COLUMNS, {"method", "checked_at"})
    trainees = await ClassTrainees.load(session, settings, class_id)
    seen = {(row.enrolment_id, row.day) for row in await session.execute(
        select(CheckIn.enrolment_id, CheckIn.day).where(CheckIn.class_id == class_id))}
    now = clock.now()
    new: list[tuple[RosterRow, NewCheckIn]] = []
    errors: list[BulkRowError] = []
    for row in rows:
        try:
            values = trainees.resolve(_blank_to_none(row.values))
            values["method"] = METHODS.get((values.get("method") or "").lower(), values.get("method"))
            values["checked_at"] = _instant(values.get("checked_at"))
            data = CheckInIn.model_validate(values)
            enrolment = trainees.by_id.get(data.enrolment_id)
            day = check_in_day(training_class, enrolment, data, now)
        except (ValidationError, Problem) as exc:
            errors.append(row_error(row, exc))
            continue
        assert enrolment is not None
        if (enrolment.id, day) not in seen:  # a day already recorded (or earlier in this file) counts once
            seen.add((enrolment.id, day))
            new.append((row, NewCheckIn(enrolment, day, data)))
    elsewhere = await days_attended_elsewhere(session, training_class, [n for _, n in new])
    for row, n in new:
        if (n.enrolment.person_key, n.day) in elsewhere:
            errors.append(row_error(row, attended_elsewhere(n.day)))
    errors.sort(key=lambda e: e.line)
    accepted = [n for _, n in new if (n.enrolment.person_key, n.day) not in elsewhere]
    recorded = await record_check_ins(session, settings, principal, training_class, accepted)
    good = len(rows) - len(errors)
    return BulkOut(applied=len(recorded), unchanged=good - len(recorded), rejected=len(errors), row_errors=errors)


async def bulk_completions(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID,
    filename: str, content: bytes,
) -> BulkOut:
    training_class = await class_for(session, principal, class_id)
    rows = await read_roster(filename, content, COMPLETION_COLUMNS, {"passed"})
    trainees = await ClassTrainees.load(session, settings, class_id)
    attendance = await class_attendance(session, class_id)
    events: list[Event] = []
    completed: list[Enrolment] = []
    errors: list[BulkRowError] = []
    for row in rows:
        try:
            values = trainees.resolve(_blank_to_none(row.values))
            values["passed"] = _bool(values.get("passed"))
            values["completed_on"] = _day(values.get("completed_on"))
            data = CompletionIn.model_validate(values)
            enrolment = trainees.by_id.get(data.enrolment_id)
            events += completion_events(settings, principal, training_class, enrolment, data,
                                        attendance.get(data.enrolment_id, NO_ATTENDANCE))
        except (ValidationError, Problem) as exc:
            errors.append(row_error(row, exc))
            continue
        assert enrolment is not None
        completed.append(enrolment)
    sheet = province.completion_sheet(session, settings, training_class, completed)  # P1: the upload's one sheet
    await outbox.add_many(session, events + ([sheet] if sheet else []))
    return BulkOut(applied=len(rows) - len(errors), rejected=len(errors), row_errors=errors)


async def bulk_follow_ups(
    session: AsyncSession, settings: TrainingSettings, principal: Principal, class_id: uuid.UUID,
    filename: str, content: bytes,
) -> BulkOut:
    await class_for(session, principal, class_id)
    rows = await read_roster(filename, content, FOLLOW_UP_COLUMNS, set())
    trainees = await ClassTrainees.load(session, settings, class_id)

    async def apply(row: RosterRow) -> int:
        values = trainees.resolve(_blank_to_none(row.values))
        employment = values.get("employer") is not None
        licence = values.get("licence_credit_code") is not None
        if employment == licence:
            raise Problem(422, "follow_up_one_kind_per_row",
                          "each row records either an employment (employer) or a business licence, not both or none")
        try:
            enrolment_id = uuid.UUID(values.get("enrolment_id") or "")
        except ValueError:
            raise Problem(422, "enrolment_id_invalid", "enrolment_id is not a UUID") from None
        enrolment = await enrolment_for(session, principal, enrolment_id)
        if enrolment.class_id != class_id:
            raise Problem(422, "enrolment_not_in_class", f"enrolment {enrolment_id} is not a trainee of this class")
        if employment:
            data = EmploymentIn.model_validate({
                "employer": values.get("employer"), "employer_credit_code": values.get("employer_credit_code"),
                "employed_on": _day(values.get("employed_on")), "contract_months": _integer(values.get("contract_months")),
            })
            await record_employment(session, settings, principal, enrolment_id, data)
        else:
            data = LicenceIn.model_validate({"credit_code": values.get("licence_credit_code"),
                                      "licensed_on": _day(values.get("licensed_on"))})
            await record_licence(session, settings, principal, enrolment_id, data)
        return 201

    return await _apply_rows(rows, apply)
