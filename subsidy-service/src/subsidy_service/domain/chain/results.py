"""What `evaluate_person` returns: the claim drafts (with their natural keys) and the chain views."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from subsidy_service.domain.chain.vocabulary import BROKEN, MAIN, MISSING, OK, RULE_OF_REASON, ClaimState, Link, Reason
from subsidy_service.domain.rules import Line


@dataclass(frozen=True)
class ClaimDraft:
    claim_type: str
    subject_id: str  # voucher id (training, living allowance) or certificate id (evaluation)
    part: str
    person_key: str
    voucher_id: str | None
    certificate_id: str | None
    institution_id: str | None  # the training institution of the chain
    payee_type: str
    payee_id: str | None
    kind: str  # voucher kind, or certificate type for evaluation claims
    policy_year: int
    table_year: int | None
    table_version: int | None
    amount: Decimal
    lines: tuple[Line, ...]
    state: ClaimState
    reason: Reason | None = None
    missing: tuple[Reason, ...] = ()
    quota_slot: str | None = None  # E4
    level_slot: str | None = None  # E5
    order: tuple = ()  # precedence inside an E4 / E5 contest

    @property
    def key(self) -> str:
        return claim_key(self.claim_type, self.subject_id, self.part)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rules of its lines, then the rule that rejected or holds it."""
        ids = [line.rule_id for line in self.lines]
        if self.reason is not None and self.reason.code in RULE_OF_REASON:
            ids.append(RULE_OF_REASON[self.reason.code])
        return tuple(dict.fromkeys(ids))


def claim_key(claim_type: str, subject_id: str, part: str = MAIN) -> str:
    return f"{claim_type}:{subject_id}:{part}"


@dataclass(frozen=True)
class ChainView:
    voucher_id: str
    person_key: str
    kind: str | None
    policy_year: int | None
    enrolment_id: str | None
    class_id: str | None
    institution_id: str | None
    certificate_id: str | None
    links: tuple[Link, ...]

    @property
    def status(self) -> str:
        statuses = {link.status for link in self.links}
        if any(link.status == BROKEN for link in self.links):
            return "broken"
        if MISSING in statuses:
            return "waiting"
        if any(link.name == "limits" and link.reason is not None for link in self.links):
            return "held"
        return "complete"

    @property
    def problems(self) -> tuple[Reason, ...]:
        return tuple(link.reason for link in self.links if link.reason is not None and link.status != OK)


@dataclass(frozen=True)
class PersonResult:
    chains: dict[str, ChainView] = field(default_factory=dict)
    claims: dict[str, ClaimDraft] = field(default_factory=dict)
