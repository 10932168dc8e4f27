"""The province real-name training system boundary (P1).

Outbound: every trainee, class, attendance and completion record the county sends.
Inbound: the province's answer to each submission.
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
    # attendance: one submission per class and day carries that day's sheet (enrolment_id and person_key
    # are then empty); the province answers the sheet as one record.
    attendance: list[AttendanceLine] | None = None


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
