"""ORM models of the subsidy service and the kit's tables on the same metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skillkit.audit import add_audit_table
from skillkit.db import Money, UTCDateTime, new_id, new_metadata
from skillkit.tables import BigIntId, add_kit_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


kit_tables = add_kit_tables(Base.metadata)
audit_log = add_audit_table(Base.metadata)  # P10


class Person(Base):
    """The worker projection: one row per registered or linked person (account subject -> person key).
    (A person's re-evaluations are serialised by an advisory lock, `adapters/locks.py`.)"""

    __tablename__ = "persons"

    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str | None] = mapped_column(String(36))
    account_subject: Mapped[str | None] = mapped_column(String(200), index=True)
    account_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    masked_name: Mapped[str | None] = mapped_column(String(50))
    township: Mapped[str | None] = mapped_column(String(50))
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    # indexed: the reports' incremental refresh (every 30 s) reads the rows changed since its last run (issue 18)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FactRow(Base):
    """A fact received from another service, one row per natural key; the newest event version wins."""

    __tablename__ = "facts"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_facts_kind_key"),
        # The facts around a person read at every re-evaluation (adapters/fact_store.py): an institution's suspension
        # or filing, without scanning every fact that names the institution (all its trainees' facts), and a
        # class's own facts, without its trainees' facts.
        Index("ix_facts_kind_institution", "kind", "institution_id"),
        Index("ix_facts_class_scope", "class_id", postgresql_where=text("person_key IS NULL"),
              sqlite_where=text("person_key IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300))
    event_type: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    voucher_id: Mapped[str | None] = mapped_column(String(64), index=True)
    enrolment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    class_id: Mapped[str | None] = mapped_column(String(64), index=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChainRow(Base):
    """The latest evaluation of one voucher's chain (links, event ids, what is missing)."""

    __tablename__ = "chains"

    voucher_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str | None] = mapped_column(String(30))
    policy_year: Mapped[int | None] = mapped_column(Integer)
    enrolment_id: Mapped[str | None] = mapped_column(String(64))
    class_id: Mapped[str | None] = mapped_column(String(64))
    institution_id: Mapped[str | None] = mapped_column(String(64), index=True)
    certificate_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # indexed: the reports' incremental refresh (every 30 s) reads the rows changed since its last run (issue 18)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Claim(Base):
    """A claim: training (per voucher, per S6 part), living allowance (per voucher), evaluation (per
    certificate). E4 and E5 are unique constraints: `quota_slot` / `level_slot` are set only on the one
    live claim of a slot (NULLs never clash)."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("claim_type", "subject_id", "part", name="uq_claims_natural_key"),
        # E4: one inclusive and one project-or-order training subsidy per person per policy year.
        UniqueConstraint("person_key", "policy_year", "quota_slot", name="uq_claims_e4_quota"),
        # E5: one evaluation subsidy per person per certificate level.
        UniqueConstraint("person_key", "level_slot", name="uq_claims_e5_level"),
        Index("ix_claims_state_created", "state", "created_at"),
        # A policy year's claims (the summary, GET /v1/claims?policy_year=): without it every such request read all
        # the claims of every year (bench.province_scale, issue 18).
        Index("ix_claims_year_type_state", "policy_year", "claim_type", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    claim_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(10))
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    voucher_id: Mapped[str | None] = mapped_column(String(64), index=True)
    certificate_id: Mapped[str | None] = mapped_column(String(64))
    institution_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payee_type: Mapped[str] = mapped_column(String(30))
    payee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    policy_year: Mapped[int] = mapped_column(Integer)
    table_year: Mapped[int | None] = mapped_column(Integer)
    table_version: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason_zh: Mapped[str | None] = mapped_column(Text)
    reason_en: Mapped[str | None] = mapped_column(Text)
    missing: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    quota_slot: Mapped[str | None] = mapped_column(String(30))
    level_slot: Mapped[str | None] = mapped_column(String(30))
    recovery_pending: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # indexed: the reports' incremental refresh (every 30 s) reads the rows changed since its last run (issue 18)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    eligible_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_by: Mapped[str | None] = mapped_column(String(200))
    # A declared (frozen) claim whose chain now computes another amount: shown as "changed after declaration".
    recomputed_amount: Mapped[Decimal | None] = mapped_column(Money)


class PolicyTableRow(Base):
    """One version of one policy year's table (P10: who changed it and when)."""

    __tablename__ = "policy_tables"

    policy_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date] = mapped_column(Date)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Recovery(Base):
    """追回: a paid claim whose voucher or certificate was revoked afterwards."""

    __tablename__ = "recoveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    payee_type: Mapped[str] = mapped_column(String(30))
    payee_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))  # open | settled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settlement: Mapped[str | None] = mapped_column(String(20))  # offset | refund
    settled_reference: Mapped[str | None] = mapped_column(String(100))
    settled_by: Mapped[str | None] = mapped_column(String(200))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the pending bank transfer that nets this recovery off (P4 offset); cleared if that transfer fails
    offset_transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
