"""ORM models of the training service and the kit's tables on the same metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skillkit.db import UTCDateTime, new_id, new_metadata
from skillkit.audit import add_audit_table
from skillkit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


kit_tables = add_kit_tables(Base.metadata)
audit_log = add_audit_table(Base.metadata)  # P10


class Occupation(Base):
    """Occupation catalogue (两目录之一, I1), imported from the CSV shipped in `training_service/data`."""

    __tablename__ = "occupations"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # national classification, e.g. 4-10-01-05
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OccupationLevel(Base):
    """Per level: minimum training days and the S2 subsidised-day limit."""

    __tablename__ = "occupation_levels"

    occupation_code: Mapped[str] = mapped_column(ForeignKey("occupations.code"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)  # 5 初级工 … 1 高级技师
    min_training_days: Mapped[int] = mapped_column(Integer)
    subsidised_day_limit: Mapped[int] = mapped_column(Integer)


class Institution(Base):
    """Training institution catalogue (两目录之一, I1); status per I3."""

    __tablename__ = "institutions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    township: Mapped[str] = mapped_column(String(50), index=True)
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(20))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    occupation_codes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)  # approved | suspended | revoked
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_by: Mapped[str] = mapped_column(String(200))  # P10
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Enterprise(Base):
    """An enterprise whose employees take on-the-job training (S5): registered by the bureau, the S5 payee. Its bank
    account is registered with the subsidy service (payee type `enterprise`), like every payee's."""

    __tablename__ = "enterprises"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    township: Mapped[str] = mapped_column(String(50))
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))  # P10
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrainingClass(Base):
    __tablename__ = "classes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    course: Mapped[str | None] = mapped_column(String(20))
    occupation_code: Mapped[str] = mapped_column(ForeignKey("occupations.code"))
    level: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    planned_days: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    # Seats held by pending and active enrolments; moved only by atomic conditional UPDATEs.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    venue: Mapped[str] = mapped_column(String(300))
    teachers: Mapped[list[str]] = mapped_column(JSON)
    teaching_plan_ref: Mapped[str] = mapped_column(String(300))
    assessment_plan_ref: Mapped[str] = mapped_column(String(300))
    outbound: Mapped[bool] = mapped_column(Boolean, default=False)  # E8
    project_reference: Mapped[str | None] = mapped_column(String(200))  # S3
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)  # S5: enterprises.id
    days_reason: Mapped[str | None] = mapped_column(Text)  # S1: an inclusive class outside 3–10 days, approved
    # S9: the industry department whose own funds pay the class (record only: no subsidy arises from it)
    funded_by_department: Mapped[str | None] = mapped_column(String(100))
    subsidised_day_limit: Mapped[int | None] = mapped_column(Integer)  # S2
    employer: Mapped[str | None] = mapped_column(String(200))  # S2 order
    employer_credit_code: Mapped[str | None] = mapped_column(String(18))
    positions_promised: Mapped[int | None] = mapped_column(Integer)
    # open | pending_approval | rejected | closed (follow-up window closed, outcome reported)
    status: Mapped[str] = mapped_column(String(20), index=True)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))  # P10
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[dict | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))  # P10: who reported the outcome


class VoucherProjection(Base):
    """What the training service knows about a voucher, built from voucher events (any order).

    Every field moves one way only: `issued` becomes true, `expired_at`/`revoked_at` get set once.
    """

    __tablename__ = "voucher_projection"

    voucher_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str | None] = mapped_column(String(16), unique=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str | None] = mapped_column(String(30))
    policy_year: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued: Mapped[bool] = mapped_column(Boolean, default=False)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    bound_enrolment_id: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


LIVE = "1"  # Enrolment.live_slot of every enrolment that is not rejected


class Enrolment(Base):
    __tablename__ = "enrolments"
    # One live (pending/active/completed/dropped) enrolment per voucher; live_slot is NULL once rejected.
    __table_args__ = (UniqueConstraint("voucher_id", "live_slot", name="uq_enrolments_voucher_live"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    voucher_id: Mapped[str] = mapped_column(String(36))
    voucher_code: Mapped[str | None] = mapped_column(String(16))
    live_slot: Mapped[str | None] = mapped_column(String(1))
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    trainee_name: Mapped[str] = mapped_column(String(50))
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_blind_index: Mapped[str] = mapped_column(String(64), index=True)
    # pending -> active -> completed | dropped; pending -> rejected (saga compensation)
    status: Mapped[str] = mapped_column(String(20), index=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(40))
    rejection_detail: Mapped[str | None] = mapped_column(Text)
    # P1: none | submitted | accepted | rejected
    province_status: Mapped[str] = mapped_column(String(20), default="none")
    province_reason: Mapped[str | None] = mapped_column(String(40))
    province_detail: Mapped[str | None] = mapped_column(Text)
    # P1, the completion record's verdict (a line of a completion sheet): NULL (not sent) | submitted | accepted |
    # rejected. Kept apart from the trainee verdict above: the subsidy chain rests on both.
    completion_province_status: Mapped[str | None] = mapped_column(String(20))
    completion_province_reason: Mapped[str | None] = mapped_column(String(40))
    completion_province_detail: Mapped[str | None] = mapped_column(Text)
    enrolled_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first attended day, set once by a conditional UPDATE: `training.started` is emitted exactly when it is set.
    started_on: Mapped[date | None] = mapped_column(Date)
    # completion (结业)
    attended_days: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    theory_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    practical_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    drop_reason: Mapped[str | None] = mapped_column(Text)
    dropped_by: Mapped[str | None] = mapped_column(String(200))  # P10
    # follow-up within six months
    employer: Mapped[str | None] = mapped_column(String(200))
    employer_credit_code: Mapped[str | None] = mapped_column(String(18))
    employed_on: Mapped[date | None] = mapped_column(Date)
    contract_months: Mapped[int | None] = mapped_column(Integer)
    employment_recorded_by: Mapped[str | None] = mapped_column(String(200))  # P10: the S2 rate counts it
    licence_credit_code: Mapped[str | None] = mapped_column(String(18))
    licensed_on: Mapped[date | None] = mapped_column(Date)
    licence_recorded_by: Mapped[str | None] = mapped_column(String(200))  # P10: the S6 rate counts it


class CheckIn(Base):
    __tablename__ = "check_ins"
    # A second check-in the same day counts once.
    __table_args__ = (UniqueConstraint("enrolment_id", "day", name="uq_check_ins_enrolment_day"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    enrolment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrolments.id"), index=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(10))  # face | qr | staff
    staff_id: Mapped[str | None] = mapped_column(String(50))
    evidence_ref: Mapped[str | None] = mapped_column(String(300))  # P8: the face record's or video's reference
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RealnameSubmission(Base):
    """One version of a record sent to the province real-name system (P1) and the province's answer to it.
    Trainee, attendance, completion and certificate records are sheets of a class (one row per sheet and
    version, `enrolment_id` empty); a sheet keeps its lines here, so an answer's per-line verdicts can be matched
    to them. A correction is a new row: the same `record_id` (the `submission_id` on the wire), the next
    `version`, the corrected lines; the rows of a record are its history."""

    __tablename__ = "realname_submissions"
    __table_args__ = (UniqueConstraint("record_id", "version", name="uq_realname_submissions_record_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)  # the first version's id
    version: Mapped[int] = mapped_column(Integer, default=1)
    record_type: Mapped[str] = mapped_column(String(20))  # trainee | class | attendance | completion | certificate
    class_id: Mapped[str] = mapped_column(String(36), index=True)
    # trainee and completion records sent one per record before sheets (migration 0004); empty on a sheet
    enrolment_id: Mapped[str | None] = mapped_column(String(36), index=True)
    day: Mapped[date | None] = mapped_column(Date)  # attendance: the sheet's day (one sheet per class and day)
    # trainee and completion sheets: [[enrolment_id, person_key], ...] in sheet order
    lines: Mapped[list[list[str]] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # submitted | accepted | rejected
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The event's data as first sent: a re-send after a timeout sends exactly this again (the identity stays
    # sealed in it). Empty on rows sent before migration 0006 (never re-sent).
    payload: Mapped[dict | None] = mapped_column(JSON)
    # The answer's verdict per line of this version: {enrolment_id: [verdict, reason, detail]} (history).
    line_verdicts: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # sends of this version
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # unanswered after the last attempt
    created_by: Mapped[str | None] = mapped_column(String(200))  # P10: who sent a correction (version > 1)
    note: Mapped[str | None] = mapped_column(Text)  # what the correction changed


class RealnameNotice(Base):
    """A message the province sent of its own accord about a record line (P1): trained elsewhere after the fact,
    withdrawn. Kept as history; the latest marks the enrolment."""

    __tablename__ = "realname_notices"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # the province's notice id
    notice: Mapped[str] = mapped_column(String(30))  # trained_elsewhere | withdrawn
    record_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    record_type: Mapped[str] = mapped_column(String(20))
    class_id: Mapped[str] = mapped_column(String(36), index=True)
    enrolment_id: Mapped[str] = mapped_column(String(36), index=True)
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    other_county_code: Mapped[str | None] = mapped_column(String(12))
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the province's event time
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EvaluationInstitution(Base):
    """Names and credit codes of evaluation institutions (from `evaluation_institution.filed`), for the
    certificate records sent to the province (P1)."""

    __tablename__ = "evaluation_institutions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClassInterest(Base):
    """A worker's interest in a class (报名意向, P9): the institution follows it up and confirms it by enrolling the
    worker with their voucher. One per worker account and class; the contact is what the worker chose to give."""

    __tablename__ = "class_interests"
    __table_args__ = (UniqueConstraint("class_id", "account_subject", name="uq_class_interests_class_account"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    account_subject: Mapped[str] = mapped_column(String(200), index=True)
    # from the worker's token (pk claim) or the voucher named; how an enrolment finds the interest it confirms
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    voucher_code: Mapped[str | None] = mapped_column(String(16))
    contact_name: Mapped[str] = mapped_column(String(50))
    # Encrypted at rest like the ID numbers (issue 16, skillkit.pii key ring); in full only to the worker and to the
    # institution that follows the interest up (P9: the worker gave it to be called), masked to anyone else.
    mobile_encrypted: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # interested | enrolled | withdrawn
    enrolment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
