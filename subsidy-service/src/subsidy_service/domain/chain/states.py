"""A claim's state from its links (void, rejected, waiting or eligible), and I3's hold pending the bureau's review."""

from __future__ import annotations

from subsidy_service.domain.chain.vocabulary import BROKEN, MISSING, VOIDING, ClaimState, Link, Reason
from subsidy_service.domain.chain.working import WorkingChain
from subsidy_service.domain.facts import FactSet


def state_from(links: list[Link] | tuple[Link, ...]) -> tuple[ClaimState, Reason | None, tuple[Reason, ...]]:
    broken = [link.reason for link in links if link.status == BROKEN and link.reason is not None]
    missing = tuple(link.reason for link in links if link.status == MISSING and link.reason is not None)
    voiding = [r for r in broken if r.code in VOIDING]
    if voiding:
        return ClaimState.VOID, voiding[0], missing
    if broken:
        return ClaimState.REJECTED, broken[0], missing
    if missing:
        return ClaimState.WAITING, missing[0], missing
    return ClaimState.ELIGIBLE, None, ()


def with_suspension(state: ClaimState, reason: Reason | None, chain: WorkingChain, key: str,
                    facts: FactSet) -> tuple[ClaimState, Reason | None]:
    """I3: a suspended institution's delivered work is payable only after the bureau's review."""
    if state != ClaimState.ELIGIBLE or chain.suspended is None:
        return state, reason
    return reviewed(key, facts, Reason.of("institution_suspended"))


def reviewed(key: str, facts: FactSet, held: Reason) -> tuple[ClaimState, Reason | None]:
    review = facts.get("review", key)
    if review is None:
        return ClaimState.HELD, held
    if review.payload.approved:
        return ClaimState.ELIGIBLE, None
    return ClaimState.REJECTED, Reason.of("review_rejected", review.payload.reason or "-")
