"""Tables of the reports (issue 14): the request counter of the public disclosure's rate limit."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from subsidy_service.adapters.models import Base


class RateLimitHit(Base):
    """Requests counted per client and fixed window in the database, so every replica shares the limit of the
    public disclosure pages (P7) — as the certification service counts its public certificate checks (issue 16).
    Rows of past windows are deleted as new windows start."""

    __tablename__ = "rate_limit_hits"

    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    # HMAC of the client address (adapters/ratelimit.py): no address is stored.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(epoch seconds / window)
    hits: Mapped[int] = mapped_column(Integer)
