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
    # Additive (optional) fields: which part of a claim (S6 pays in two), the policy table it was computed
    # with, the training institution of the chain and the arithmetic lines.
    part: str | None = None
    table_year: int | None = None
    table_version: int | None = None
    institution_id: str | None = None
    lines: list[str] | None = None


@registry.register("subsidy.claim_voided.v1", SUBSIDY_TOPIC, "A claim was voided before payment")
class ClaimVoided(EventPayload):
    claim_id: str
    voucher_id: str | None = None
    person_key: str
    reason: str
    # Additive (optional): the claim's type and certificate, the reason code and the state it went to
    # (void, rejected, or waiting again).
    claim_type: str | None = None
    certificate_id: str | None = None
    reason_code: str | None = None
    state: str | None = None


@registry.register("subsidy.claim_paid.v1", SUBSIDY_TOPIC, "A claim was paid")
class ClaimPaid(EventPayload):
    claim_id: str
    claim_type: str
    voucher_id: str | None = None
    person_key: str
    amount: Decimal
    paid_at: datetime


@registry.register(
    "subsidy.recovery_opened.v1", SUBSIDY_TOPIC, "A paid claim's voucher or certificate was revoked: recover (追回)"
)
class RecoveryOpened(EventPayload):
    recovery_id: str
    claim_id: str
    claim_type: str
    voucher_id: str | None = None
    certificate_id: str | None = None
    person_key: str
    payee_type: str
    payee_id: str | None = None
    amount: Decimal
    reason_code: str
    reason: str
