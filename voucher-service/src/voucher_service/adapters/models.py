"""ORM models of the voucher service and the kit's tables on the same metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skillkit.db import UTCDateTime, new_id, new_metadata
from skillkit.audit import add_audit_table
from skillkit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


kit_tables = add_kit_tables(Base.metadata)
audit_log = add_audit_table(Base.metadata)  # P10


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # The login subject of the worker's own account, when they registered themselves or linked later.
    account_subject: Mapped[str | None] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_blind_index: Mapped[str] = mapped_column(String(64), unique=True)
    person_key: Mapped[str] = mapped_column(String(64), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    # Encrypted like the ID number (issue 16); never searched, so no blind index. Shown masked to staff.
    mobile_encrypted: Mapped[str] = mapped_column(Text)
    township: Mapped[str] = mapped_column(String(50))
    categories: Mapped[list[str]] = mapped_column(JSON)
    on_behalf: Mapped[bool]
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CategoryReview(Base):
    """Issue 13: the evidence behind a worker's category — confirmed or rejected by staff (`source` staff) or by the
    roster of the office that keeps its register (`source` the office). A category of `workers.categories` without a
    row here is only claimed. One row per (worker, category): the newest review stands (each one is an event and,
    for staff, an audit entry)."""

    __tablename__ = "category_reviews"

    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # confirmed | rejected
    source: Mapped[str] = mapped_column(String(40))
    evidence_reference: Mapped[str] = mapped_column(String(200))
    licence_issued_on: Mapped[date | None] = mapped_column(Date)  # E2, new_business_founder only
    reviewed_by: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuingBatch(Base):
    """A batch of vouchers issued together; its validity window applies to each voucher (P5-capped)."""

    __tablename__ = "issuing_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    policy_year: Mapped[int] = mapped_column(Integer)
    validity_days: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    class_reference: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Voucher(Base):
    __tablename__ = "vouchers"
    # E4 in the database: one inclusive and one project-or-order voucher per person per policy year.
    # quota_slot is NULL for kinds E4 does not limit and for expired or revoked vouchers (NULLs never clash).
    __table_args__ = (UniqueConstraint("person_key", "policy_year", "quota_slot", name="uq_vouchers_e4_quota"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    policy_year: Mapped[int] = mapped_column(Integer)
    quota_slot: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("issuing_batches.id"))
    channel: Mapped[str] = mapped_column(String(20))
    issued_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enrolment_id: Mapped[str | None] = mapped_column(String(36))
    class_id: Mapped[str | None] = mapped_column(String(36))
    institution_id: Mapped[str | None] = mapped_column(String(36))
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    occupation_code: Mapped[str | None] = mapped_column(String(20))
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    revoked_note: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_id: Mapped[str | None] = mapped_column(String(36))


class PersonCertificate(Base):
    """Certificates seen for a person, so a completion that arrives after its certificate still certifies."""

    __tablename__ = "person_certificates"

    certificate_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    occupation_code: Mapped[str] = mapped_column(String(20))
    revoked: Mapped[bool] = mapped_column(default=False)


class WeChatAccount(Base):
    """A WeChat user of the mini-program and the platform account (token subject) it logs in as.

    The subject is fixed at the first login: the unionid when WeChat sent one, else the openid. Kept here so a
    mini-program bound to an Open Platform account later (unionids appear) does not change who the worker is,
    and so notifications find the openid to write to (subscribe messages go to the openid)."""

    __tablename__ = "wechat_accounts"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    account_subject: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefreshToken(Base):
    """A worker's refresh token, stored as its SHA-256 only; each use rotates it (the old one stops working)."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_subject: Mapped[str] = mapped_column(String(200), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """A WeChat subscribe message to send (an outbox of its own): written by the notification consumer and the
    expiry reminders, sent by the sender loop. One per (event, template): a redelivered event changes nothing."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_id", "template", name="uq_notifications_event_template"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(100))  # the CloudEvent id, or voucher-expiring:<voucher>:<days>
    template: Mapped[str] = mapped_column(String(40))  # our key (settings map it to WeChat's template id)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON)
    page: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | refused (no agreement) | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
