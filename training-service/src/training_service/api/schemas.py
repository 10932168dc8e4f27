"""Response bodies of the training API; the request bodies are the use cases' (`handlers/inputs.py`)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from skillkit.contracts.vocab import VoucherKind
from skillkit.county import CountyTime

from training_service.handlers.bulk import BulkOut, BulkRowError  # noqa: F401  (re-exported: the uploads' answer)
from training_service.handlers.inputs import (  # noqa: F401  (re-exported: the API's request bodies)
    CheckInIn,
    ClassDecisionIn,
    ClassIn,
    CompletionIn,
    DropIn,
    EmployerOrder,
    EmploymentIn,
    EnrolmentIn,
    EnterpriseIn,
    InstitutionIn,
    InstitutionPatch,
    InstitutionStatusIn,
    LicenceIn,
)


# ---- catalogues -------------------------------------------------------------------------------------------------

class OccupationLevelOut(BaseModel):
    level: int
    level_label: str
    min_training_days: int
    subsidised_day_limit: int


class OccupationOut(BaseModel):
    code: str
    name: str
    levels: list[OccupationLevelOut]


class InstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    credit_code: str
    address: str
    township: str
    contact_name: str
    contact_phone: str
    kinds: list[VoucherKind]
    occupation_codes: list[str]
    status: str
    status_label: str
    status_reason: str | None
    created_at: CountyTime
    updated_at: CountyTime


class EnterpriseOut(BaseModel):
    """S5: an enterprise whose employees take on-the-job training. The contact is shown to bureau staff only."""

    id: uuid.UUID
    name: str
    credit_code: str
    address: str
    township: str
    contact_name: str
    contact_phone: str
    created_by: str
    created_at: CountyTime


# ---- classes ----------------------------------------------------------------------------------------------------

class ClassOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    kind: VoucherKind
    kind_label: str
    course: str | None
    occupation_code: str
    level: int | None
    start_date: date
    end_date: date
    planned_days: int
    capacity: int
    seats_taken: int
    venue: str
    teachers: list[str]
    teaching_plan_ref: str
    assessment_plan_ref: str
    outbound: bool
    project_reference: str | None
    enterprise_id: uuid.UUID | None = None  # S5
    days_reason: str | None = None  # S1: outside 3–10 days, approved by the bureau
    # S9: the industry department whose own funds pay the class (record only: no subsidy arises from it)
    funded_by_department: str | None = None
    funding_label: str  # 职业技能培训补贴（凭电子培训券兑现） | 行业部门自有经费（S9，不享受本补贴）
    subsidised_day_limit: int | None
    order: EmployerOrder | None
    status: str
    status_label: str
    decision_reason: str | None
    outcome: dict | None
    created_at: CountyTime
    # GET /classes/{id} only (null elsewhere): enrolment status -> count, for pollers (one GROUP BY, no PII).
    enrolment_counts: dict[str, int] | None = None


# ---- enrolments -------------------------------------------------------------------------------------------------

class EnrolmentOut(BaseModel):
    id: uuid.UUID
    class_id: uuid.UUID
    institution_id: uuid.UUID
    voucher_id: str
    voucher_code: str | None
    trainee_name: str
    id_number_masked: str
    status: str
    status_label: str
    rejection_reason: str | None
    rejection_detail: str | None
    province_status: str
    province_status_label: str
    province_reason: str | None
    province_detail: str | None
    # P1, the completion record's verdict (a line of a completion sheet): none | submitted | accepted | rejected
    completion_province_status: str
    completion_province_status_label: str
    completion_province_reason: str | None
    completion_province_detail: str | None
    attended_days: int
    passed: bool | None
    theory_score: Decimal | None
    practical_score: Decimal | None
    completed_on: date | None
    employer: str | None
    employed_on: date | None
    contract_months: int | None
    licence_credit_code: str | None
    licensed_on: date | None
    created_at: CountyTime


class CheckInOut(BaseModel):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    class_id: uuid.UUID
    day: date
    method: str
    staff_id: str | None
    checked_at: CountyTime
    evidence_ref: str | None = None
    attended_days: int


class BulkEnrolmentOut(BaseModel):
    applied: int
    rejected: int
    enrolments: list[EnrolmentOut]
    row_errors: list[BulkRowError]


class RealnameVersionOut(BaseModel):
    """One version of a province record (P1): sent, re-sent, answered, escalated; a correction's author and note."""

    submission_id: str
    version: int
    record_type: str
    record_type_label: str
    day: date | None = None
    lines: int | None = None
    status: str
    status_label: str
    reason: str | None = None
    detail: str | None = None
    sent_at: CountyTime
    last_sent_at: CountyTime | None = None
    attempts: int
    answered_at: CountyTime | None = None
    escalated_at: CountyTime | None = None
    corrected_by: str | None = None
    note: str | None = None
    class_id: str | None = None


class RealnameNoticeOut(BaseModel):
    notice_id: str
    notice: str
    notice_label: str
    submission_id: str
    version: int
    record_type: str
    enrolment_id: str
    reason: str | None = None
    detail: str | None = None
    other_county_code: str | None = None
    notified_at: CountyTime


class RealnameRecordOut(BaseModel):
    submission_id: str
    record_type: str
    record_type_label: str
    day: date | None = None
    versions: list[RealnameVersionOut]


class ClassRealnameOut(BaseModel):
    """The class's province records: what is unanswered, escalated or rejected, every record's history."""

    class_id: str
    unanswered: int
    escalated: int
    rejected: int
    records: list[RealnameRecordOut]
    notices: list[RealnameNoticeOut]


class EnrolmentRealnameOut(BaseModel):
    enrolment_id: str
    versions: list[RealnameVersionOut]
    notices: list[RealnameNoticeOut]


class RealnameTypeCounts(BaseModel):
    unanswered: int
    overdue: int
    escalated: int


class RealnameHealthOut(BaseModel):
    """The province feed's pipeline health (the ops dashboard)."""

    unanswered: int
    overdue: int
    escalated: int
    oldest_unanswered_sent_at: CountyTime | None = None
    by_record_type: dict[str, RealnameTypeCounts]
    answer_timeout_seconds: float
    max_attempts: int
    escalated_records: list[RealnameVersionOut]
