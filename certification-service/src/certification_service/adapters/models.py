"""ORM models of the certification service and the kit's tables on the same metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skillkit.db import UTCDateTime, new_id, new_metadata
from skillkit.audit import add_audit_table
from skillkit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


kit_tables = add_kit_tables(Base.metadata)
audit_log = add_audit_table(Base.metadata)  # P10

Score = Numeric(5, 2, asdecimal=True)


class EvaluationInstitution(Base):
    """An evaluation institution (评价机构), registered and changed by bureau staff only."""

    __tablename__ = "evaluation_institutions"
    __table_args__ = (CheckConstraint("status IN ('approved', 'suspended', 'revoked')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # approved | suspended | revoked (I3)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Filing(Base):
    """I2: an occupation + level (+ certificate type) the institution is filed (备案) to evaluate."""

    __tablename__ = "filings"
    __table_args__ = (
        UniqueConstraint("institution_id", "occupation_code", "level_slot", "certificate_type", name="uq_filings_scope"),
        CheckConstraint("level_slot BETWEEN 0 AND 5", name="level_slot"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_institutions.id"), index=True)
    occupation_code: Mapped[str] = mapped_column(String(20))
    level: Mapped[int | None] = mapped_column(Integer)
    # level or 0 when the certificate type has no level: NULLs would never clash in the unique constraint.
    level_slot: Mapped[int] = mapped_column(Integer)
    certificate_type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Evaluation(Base):
    """An evaluation (考评) session scheduled by an institution for one occupation and level."""

    __tablename__ = "evaluations"
    __table_args__ = (CheckConstraint("level IS NULL OR level BETWEEN 1 AND 5", name="level"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_institutions.id"), index=True)
    occupation_code: Mapped[str] = mapped_column(String(20))
    level: Mapped[int | None] = mapped_column(Integer)
    certificate_type: Mapped[str] = mapped_column(String(40))
    scheduled_on: Mapped[date] = mapped_column(Date)
    scheduled_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "person_key", name="uq_candidates_evaluation_person"),
        # E7: one free skill-level evaluation per person per graduation year. free_graduation_year is NULL
        # for paid evaluations, so those never clash.
        UniqueConstraint("person_key", "free_graduation_year", name="uq_candidates_e7_free"),
        CheckConstraint("theory_score IS NULL OR theory_score BETWEEN 0 AND 100", name="theory_score"),
        CheckConstraint("practical_score IS NULL OR practical_score BETWEEN 0 AND 100", name="practical_score"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluations.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_blind_index: Mapped[str] = mapped_column(String(64), index=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    unknown_person: Mapped[bool] = mapped_column(Boolean)
    free_student_evaluation: Mapped[bool] = mapped_column(Boolean)
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    free_graduation_year: Mapped[int | None] = mapped_column(Integer)
    theory_score: Mapped[Decimal | None] = mapped_column(Score)
    practical_score: Mapped[Decimal | None] = mapped_column(Score)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    result_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_recorded_by: Mapped[str | None] = mapped_column(String(200))
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        # The same person, occupation and level is certified once. active_slot is NULL once revoked, so a
        # certificate revoked for an error can be issued again correctly.
        UniqueConstraint("person_key", "occupation_code", "level_slot", "active_slot", name="uq_certificates_once"),
        CheckConstraint("status IN ('valid', 'revoked')", name="status"),
        CheckConstraint("(status = 'valid') = (active_slot IS NOT NULL)", name="active_slot"),
        CheckConstraint("level_slot BETWEEN 0 AND 5", name="level_slot"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    certificate_no: Mapped[str] = mapped_column(String(30), unique=True)
    # One certificate per candidate (a result) ever; a new certificate needs a new evaluation.
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True, unique=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluations.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_institutions.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    holder_name: Mapped[str] = mapped_column(String(50))
    certificate_type: Mapped[str] = mapped_column(String(40))
    occupation_code: Mapped[str] = mapped_column(String(20))
    level: Mapped[int | None] = mapped_column(Integer)
    level_slot: Mapped[int] = mapped_column(Integer)
    active_slot: Mapped[str | None] = mapped_column(String(10))
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(200))
    free_student_evaluation: Mapped[bool] = mapped_column(Boolean)
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)  # valid | revoked
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    revoked_note: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CertificateSequence(Base):
    """The running number of certificates per issue year (the sequence part of the certificate number)."""

    __tablename__ = "certificate_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class KnownWorker(Base):
    """Projection of the voucher service's workers (worker.registered.v1, worker.account_linked.v1)."""

    __tablename__ = "known_workers"

    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(36))
    township: Mapped[str | None] = mapped_column(String(50), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON)
    account_subject: Mapped[str | None] = mapped_column(String(200))
    registered: Mapped[bool] = mapped_column(Boolean)  # False while only account_linked has arrived
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrainingCompletion(Base):
    """P3 培训一人，评价一人: the training service's trainees (training.enrolled: class, institution, occupation, level;
    training.completed: the completion day), so that every completed trainee is evaluated and those who are not are
    reported. Each event fills its own columns, so they may arrive in any order."""

    __tablename__ = "training_completions"

    enrolment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    class_id: Mapped[str | None] = mapped_column(String(36))
    institution_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the training institution
    occupation_code: Mapped[str | None] = mapped_column(String(20))
    level: Mapped[int | None] = mapped_column(Integer)
    completed_on: Mapped[date | None] = mapped_column(Date, index=True)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TownshipWorkforce(Base):
    """T4: the workforce size (从业人员) of each township, set by the bureau."""

    __tablename__ = "township_workforce"

    township: Mapped[str] = mapped_column(String(50), primary_key=True)
    workforce_size: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RateLimitHit(Base):
    """Requests counted per client and fixed window, shared by every replica (issue 16): the public certificate
    check's limit holds however many processes serve it. Rows of past windows are deleted as new ones start."""

    __tablename__ = "rate_limit_hits"

    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    # HMAC of the client address (skillkit/ratelimit.py): no address is stored.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(epoch seconds / window)
    hits: Mapped[int] = mapped_column(Integer)
