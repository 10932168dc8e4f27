"""A voucher's validity window (P5) and lifecycle statuses."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from skillkit.county import p5_deadline, policy_year_of


@lru_cache(maxsize=16)
def validity_window(issued_at: datetime, validity_days: int) -> tuple[int, datetime, datetime]:
    """(policy year, valid from, valid until): the batch's window, never past the P5 deadline of its year.
    Cached: a roster issues all its vouchers at one instant, and the county calendar costs ~30 µs a call."""
    year = policy_year_of(issued_at)
    until = min(issued_at + timedelta(days=validity_days), p5_deadline(year))
    return year, issued_at, until


ISSUED, BOUND, IN_TRAINING, COMPLETED, CERTIFIED, REDEEMED = (
    "issued", "bound", "in_training", "completed", "certified", "redeemed"
)
EXPIRED, REVOKED = "expired", "revoked"
# Forward order of the lifecycle; an event never moves a voucher backwards (events can arrive late).
LIFECYCLE = (ISSUED, BOUND, IN_TRAINING, COMPLETED, CERTIFIED, REDEEMED)


def earlier_than(target: str) -> tuple[str, ...]:
    """The statuses an event may move on to `target`; expired and revoked are in no such set."""
    return LIFECYCLE[: LIFECYCLE.index(target)]
