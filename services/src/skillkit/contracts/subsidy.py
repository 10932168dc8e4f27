"""Events produced by the subsidy service (topic skills.subsidy.v1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from skillkit.contracts.topics import SUBSIDY_TOPIC
from skillkit.events import EventPayload, registry


@registry.register("subsidy.claim_eligible.v1", SUBSIDY_TOPIC, "A claim's chain is complete; the amount is fixed")
class ClaimEligible(EventPayload):
    claim_id: str
    claim_type: str  # training | living_allowance | evaluation
    voucher_id: str | None = None
    certificate_id: str | None = None
    person_key: str
    payee_type: str  # institution | worker | evaluation_institution
    payee_id: str
    amount: Decimal
    policy_year: int
    rule_ids: list[str]


@registry.register("subsidy.claim_voided.v1", SUBSIDY_TOPIC, "A claim was voided before payment")
class ClaimVoided(EventPayload):
    claim_id: str
    voucher_id: str | None = None
    person_key: str
    reason: str


@registry.register("subsidy.claim_paid.v1", SUBSIDY_TOPIC, "A claim was paid")
class ClaimPaid(EventPayload):
    claim_id: str
    claim_type: str
    voucher_id: str | None = None
    person_key: str
    amount: Decimal
    paid_at: datetime
