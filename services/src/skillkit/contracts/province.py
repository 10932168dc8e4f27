"""The province real-name training system boundary (P1).

Outbound: every trainee, class, attendance and completion record the county sends. A class record is one
submission. Trainee, attendance and completion records go as sheets: one submission carries the lines recorded
together (the trainees a consumer batch bound in one class, a day's sign-in sheet, the completions of one
upload), so the province sees a class's paperwork as the institution files it.
Inbound: the province's answer to each submission; a trainee or completion sheet is answered once, with a
verdict per line.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from skillkit.contracts.topics import PROVINCE_INBOUND_TOPIC, PROVINCE_OUTBOUND_TOPIC
from skillkit.contracts.vocab import RealnameRejection, RealnameVerdict, VoucherKind
from skillkit.events import EventPayload, registry


class AttendanceLine(BaseModel):
    """One trainee's check-in on an attendance sheet (P1: a class's sign-in sheet of one day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    method: str  # face | qr | staff
    checked_at: datetime


class TraineeLine(BaseModel):
    """One trainee on a trainee sheet (P1: the trainees a class enrolled and bound together)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str


class CompletionLine(BaseModel):
    """One trainee's completion on a completion sheet (P1: the completions recorded together)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    attended_days: int
    passed: bool


class LineVerdict(BaseModel):
    """The province's verdict on one line of a trainee or completion sheet."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enrolment_id: str
    person_key: str
    verdict: RealnameVerdict
    reason: RealnameRejection | None = None
    detail: str | None = None


@registry.register(
    "province.realname.submitted.v1", PROVINCE_OUTBOUND_TOPIC, "A record sent to the province real-name system (P1)"
)
class RealnameSubmitted(EventPayload):
    submission_id: str
    record_type: str  # trainee | class | attendance | completion
    county_code: str  # GB/T 2260 code of the county, 141124 for Lin County
    class_id: str
    enrolment_id: str | None = None
    person_key: str | None = None
    occupation_code: str | None = None
    day: date | None = None  # attendance
    attended_days: int | None = None  # completion
    passed: bool | None = None  # completion
    policy_year: int
    # Additive (optional) fields: what the province needs to file a class and to match a record to it.
    institution_id: str | None = None
    kind: VoucherKind | None = None
    level: int | None = None
    start_date: date | None = None  # class
    end_date: date | None = None  # class
    planned_days: int | None = None  # class
    # Sheets (enrolment_id and person_key are then empty): attendance, one per class and day, answered as one
    # record; trainees and completions, answered with a verdict per line (`RealnameAnswered.lines`).
    attendance: list[AttendanceLine] | None = None
    trainees: list[TraineeLine] | None = None
    completions: list[CompletionLine] | None = None


@registry.register(
    "province.realname.answered.v1", PROVINCE_INBOUND_TOPIC, "The province's verdict on one submission (P1)"
)
class RealnameAnswered(EventPayload):
    submission_id: str
    record_type: str
    class_id: str
    enrolment_id: str | None = None
    person_key: str | None = None
    verdict: RealnameVerdict
    reason: RealnameRejection | None = None
    detail: str | None = None
    # The answer to a trainee or completion sheet: a verdict per line. The sheet's own verdict is accepted
    # when every line is, else rejected (its detail says how many lines were).
    lines: list[LineVerdict] | None = None
