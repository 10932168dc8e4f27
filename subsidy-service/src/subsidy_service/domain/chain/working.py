"""The working state of one voucher's chain while it is evaluated: the facts each link found."""

from __future__ import annotations

from dataclasses import dataclass, field

from subsidy_service.domain.chain.vocabulary import Link
from subsidy_service.domain.facts import Fact


@dataclass
class WorkingChain:
    voucher_id: str
    voucher: Fact | None = None
    revoked: Fact | None = None
    expired: Fact | None = None
    bound: Fact | None = None
    enrolled: Fact | None = None
    klass: Fact | None = None
    approval: Fact | None = None
    outcome: Fact | None = None
    completed: Fact | None = None
    certificate: Fact | None = None
    suspended: Fact | None = None
    links: list[Link] = field(default_factory=list)


def event_ids(*facts: Fact | None) -> tuple[str, ...]:
    """The ids of the events behind a link (shown with it)."""
    return tuple(sorted({f.event_id for f in facts if f is not None}))


def department_funded(chain: WorkingChain) -> str | None:
    """S9: the industry department whose own funds pay the chain's class (record only: no claim arises), else None."""
    return chain.klass.payload.funded_by_department if chain.klass is not None else None


def institution_of(chain: WorkingChain) -> str | None:
    """The training institution of the chain: its class's, else its enrolment's or binding's."""
    for fact in (chain.klass, chain.enrolled, chain.bound):
        if fact is not None:
            return fact.payload.institution_id
    return None
