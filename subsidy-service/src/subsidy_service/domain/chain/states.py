"""A claim's state from its links (void, rejected, waiting or eligible), and I3's hold pending the bureau's review."""

from __future__ import annotations

from subsidy_service.domain.chain.vocabulary import (
    BROKEN,
    ELIGIBLE,
    HELD,
    MISSING,
    REJECTED,
    VOID,
    VOIDING,
    WAITING,
    Link,
    Reason,
)
from subsidy_service.domain.chain.working import WorkingChain
from subsidy_service.domain.facts import FactSet


def state_from(links: list[Link] | tuple[Link, ...]) -> tuple[str, Reason | None, tuple[Reason, ...]]:
    broken = [link.reason for link in links if link.status == BROKEN and link.reason is not None]
    missing = tuple(link.reason for link in links if link.status == MISSING and link.reason is not None)
    voiding = [r for r in broken if r.code in VOIDING]
    if voiding:
        return VOID, voiding[0], missing
    if broken:
        return REJECTED, broken[0], missing
    if missing:
        return WAITING, missing[0], missing
    return ELIGIBLE, None, ()


def with_suspension(state: str, reason: Reason | None, chain: WorkingChain, key: str, facts: FactSet) -> tuple[str, Reason | None]:
    """I3: a suspended institution's delivered work is payable only after the bureau's review."""
    if state != ELIGIBLE or chain.suspended is None:
        return state, reason
    return reviewed(key, facts, Reason.of("institution_suspended"))


def reviewed(key: str, facts: FactSet, held: Reason) -> tuple[str, Reason | None]:
    review = facts.get("review", key)
    if review is None:
        return HELD, held
    if review.payload.approved:
        return ELIGIBLE, None
    return REJECTED, Reason.of("review_rejected", review.payload.reason or "-")
