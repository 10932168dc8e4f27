"""ORM models of settlement (兑现, part 2): payees and their bank accounts, quarterly declarations and their frozen
lines, funds and their ledger, payment batches, bank transfers and the claims they pay, imported bank files,
deadline notices. The invariants money depends on are database constraints, not only code: a claim is on at
most one active declaration line, has at most one live payment, and a fund is never overdrawn."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from skillkit.db import Money, UTCDateTime, new_id
from skillkit.tables import BigIntId

from subsidy_service.adapters.models import Base


class Payee(Base):
    """Who may be paid, with the legal name a bank account must carry (from the owning service's events:
    `institution.approved.v1`, `evaluation_institution.filed.v1`; a worker's masked name)."""

    __tablename__ = "payees"

    payee_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    payee_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PayeeAccount(Base):
    """One version of a payee's bank account; the newest version is the one paid to (P10: each change keeps
    who made it and when)."""

    __tablename__ = "payee_accounts"
    __table_args__ = (UniqueConstraint("payee_type", "payee_id", "version", name="uq_payee_accounts_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    payee_type: Mapped[str] = mapped_column(String(30))
    payee_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    account_name: Mapped[str] = mapped_column(String(200))
    account_number_enc: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    bank_name: Mapped[str] = mapped_column(String(100))
    bank_city: Mapped[str] = mapped_column(String(50))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_role: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Declaration(Base):
    """A payee's quarterly declaration (申报, P4). Worker claims (S4) are declared by the county on the workers'
    behalf: declarant `worker:county`, each line still names its worker."""

    __tablename__ = "declarations"
    __table_args__ = (
        Index("uq_declarations_quarter", "declarant_type", "declarant_id", "year", "quarter", unique=True,
              postgresql_where=text("state <> 'withdrawn'"), sqlite_where=text("state <> 'withdrawn'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    declarant_type: Mapped[str] = mapped_column(String(30))
    declarant_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), index=True)
    line_count: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sample_share: Mapped[Decimal] = mapped_column(Money)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeclarationLine(Base):
    """One frozen line: a claim as it stood when declared (amount, rule lines, policy-table version, evidence),
    or a negative offset of an open recovery (追回). Later events never change it."""

    __tablename__ = "declaration_lines"
    __table_args__ = (
        UniqueConstraint("declaration_id", "line_no", name="uq_declaration_lines_no"),
        # a claim is on at most one active declaration (withdrawing a declaration deactivates its lines)
        Index("uq_declaration_lines_active_claim", "claim_id", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
        Index("ix_declaration_lines_decl_decision", "declaration_id", "decision"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    declaration_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recovery_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    active: Mapped[bool] = mapped_column(default=True)
    payee_type: Mapped[str] = mapped_column(String(30))
    payee_id: Mapped[str] = mapped_column(String(64))
    person_key: Mapped[str] = mapped_column(String(64))
    claim_type: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    policy_year: Mapped[int] = mapped_column(Integer)
    table_year: Mapped[int | None] = mapped_column(Integer)
    table_version: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rule_ids: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(20))  # pending | approved | rejected
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sampled: Mapped[bool] = mapped_column(default=False)
    sample_checked_by: Mapped[str | None] = mapped_column(String(200))
    sample_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sample_note: Mapped[str | None] = mapped_column(Text)


class Fund(Base):
    """A fund account of one policy year (P6). Its balance is counters kept under a row lock, and the database
    refuses any change that would overdraw it."""

    __tablename__ = "funds"
    __table_args__ = (
        UniqueConstraint("year", "code", name="uq_funds_year_code"),
        CheckConstraint("allocated - reserved - paid >= 0", name="never_overdrawn"),
        CheckConstraint("reserved >= 0 AND paid >= 0", name="non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    year: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(30))
    allocated: Mapped[Decimal] = mapped_column(Money)
    reserved: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FundEntry(Base):
    """The fund ledger, appended to and never changed: allocation, reserve, release, pay, reverse, recover."""

    __tablename__ = "fund_entries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    fund_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    entry_type: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    recovery_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentBatch(Base):
    """Approved declarations turned into money reserved in funds and one bank payment file (P6)."""

    __tablename__ = "payment_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))  # approved | exported | settled
    total: Mapped[Decimal] = mapped_column(Money)
    transfer_count: Mapped[int] = mapped_column(Integer)
    claim_count: Mapped[int] = mapped_column(Integer)
    declaration_ids: Mapped[list[str]] = mapped_column(JSON)
    draws: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exported_by: Mapped[str | None] = mapped_column(String(200))
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transfer(Base):
    """One line of the bank file: everything a batch pays one payee, net of recovery offsets."""

    __tablename__ = "payment_transfers"
    __table_args__ = (UniqueConstraint("batch_id", "seq", name="uq_payment_transfers_seq"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(Integer)
    payee_type: Mapped[str] = mapped_column(String(30))
    payee_id: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(200))
    account_number_enc: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    bank_name: Mapped[str] = mapped_column(String(100))
    bank_city: Mapped[str] = mapped_column(String(50))
    gross: Mapped[Decimal] = mapped_column(Money)
    offset: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(String(20))  # pending | paid | failed | returned
    bank_reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClaimPayment(Base):
    """A claim in a batch, with the fund parts it draws (P6: a claim may be split across funds). At most one
    live payment per claim: the database refuses a second."""

    __tablename__ = "claim_payments"
    __table_args__ = (
        Index("uq_claim_payments_live", "claim_id", unique=True,
              postgresql_where=text("state IN ('pending', 'paid')"), sqlite_where=text("state IN ('pending', 'paid')")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    draws: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))


class BankFileImport(Base):
    """A bank result file applied once: the same file again changes nothing."""

    __tablename__ = "bank_file_imports"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeadlineNotice(Base):
    """A P5 warning sent once per policy year, declarant and threshold (30 or 7 days)."""

    __tablename__ = "deadline_notices"

    policy_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    days_before: Mapped[int] = mapped_column(Integer, primary_key=True)
    declarant_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    declarant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_count: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal] = mapped_column(Money)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
