"""Tables of the reports (issue 14): the public disclosure's rate-limit counter and the reports' read models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from skillkit.db import UTCDateTime

from subsidy_service.adapters.models import Base, Claim
from subsidy_service.domain.chain import ClaimState

# The disclosure's paid claims per quarter (P7) and money per payment quarter: an index of paid claims only, so it
# costs nothing until a claim is paid (a bank result file), never on the chain's hot path.
Index("ix_claims_paid", Claim.__table__.c.policy_year, Claim.__table__.c.paid_at,
      postgresql_where=text(f"state = '{ClaimState.PAID}'"), sqlite_where=text(f"state = '{ClaimState.PAID}'"))


class RateLimitHit(Base):
    """Requests counted per client and fixed window in the database, so every replica shares the limit of the
    public disclosure pages (P7) — as the certification service counts its public certificate checks (issue 16).
    Rows of past windows are deleted as new windows start."""

    __tablename__ = "rate_limit_hits"

    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    # HMAC of the client address (skillkit/ratelimit.py): no address is stored.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(epoch seconds / window)
    hits: Mapped[int] = mapped_column(Integer)


class ReportVoucher(Base):
    """The reports' read model: one narrow row per voucher with its funnel stages, kept by the refresh job
    (`adapters/report_refresh.py`) from chains, the training claim, the completion fact and the worker projection.
    Aggregating 1,000,000 of these is several times cheaper than joining the four tables on every request
    (BENCHMARKS.md); the price is that reports lag the chain by at most one refresh interval."""

    __tablename__ = "report_vouchers"
    __table_args__ = (
        Index("ix_report_vouchers_year_township", "policy_year", "township"),
        Index("ix_report_vouchers_institution_class", "institution_id", "class_id"),
        Index("ix_report_vouchers_class", "class_id"),
    )

    voucher_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64))
    policy_year: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the chain's creation: the arrival
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of issued_at in county time
    township: Mapped[str | None] = mapped_column(String(50))
    institution_id: Mapped[str | None] = mapped_column(String(64))
    class_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(30))
    # funnel stages, 0 or 1 each (summed by the reports)
    bound: Mapped[int] = mapped_column(SmallInteger)
    completed: Mapped[int] = mapped_column(SmallInteger)
    evaluated: Mapped[int] = mapped_column(SmallInteger)
    certified: Mapped[int] = mapped_column(SmallInteger)
    eligible: Mapped[int] = mapped_column(SmallInteger)
    paid: Mapped[int] = mapped_column(SmallInteger)


class ReportHolder(Base):
    """T4's read model: each person with a certificate fact, whether one of them is not revoked, and the township."""

    __tablename__ = "report_holders"
    __table_args__ = (Index("ix_report_holders_township", "township"),)

    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    township: Mapped[str | None] = mapped_column(String(50))
    holds: Mapped[int] = mapped_column(SmallInteger)


class ReportWatermark(Base):
    """Where the last refresh of a read model started (time) and the highest fact id it saw."""

    __tablename__ = "report_watermarks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fact_id: Mapped[int] = mapped_column(BigInteger)
