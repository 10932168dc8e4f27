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
    # Additive: the payment batch that paid it (absent on claims paid before batches existed).
    batch_id: str | None = None
    batch_reference: str | None = None


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


# ---- settlement (兑现 part 2): declarations, verification, payment batches, deadline, recoveries ----------------
# Declaration and batch events are keyed by the declarant / batch reference; claim events by the person key.

@registry.register("subsidy.declaration_submitted.v1", SUBSIDY_TOPIC, "A payee submitted its quarterly declaration (P4)")
class DeclarationSubmitted(EventPayload):
    declaration_id: str
    declarant_type: str
    declarant_id: str
    year: int
    quarter: int
    line_count: int
    amount: Decimal
    submitted_at: datetime


@registry.register("subsidy.declaration_verified.v1", SUBSIDY_TOPIC, "The bureau verified a declaration (验收, P4)")
class DeclarationVerified(EventPayload):
    declaration_id: str
    declarant_type: str
    declarant_id: str
    year: int
    quarter: int
    approved_lines: int
    rejected_lines: int
    approved_amount: Decimal
    verified_at: datetime


@registry.register("subsidy.batch_approved.v1", SUBSIDY_TOPIC, "Finance approved a payment batch; funds reserved (P6)")
class BatchApproved(EventPayload):
    batch_id: str
    reference: str
    total: Decimal
    transfer_count: int
    claim_count: int
    declaration_ids: list[str]
    draws: list[dict[str, str | int]]
    approved_at: datetime


@registry.register("subsidy.payment_returned.v1", SUBSIDY_TOPIC, "A paid claim's transfer was returned (退票)")
class PaymentReturned(EventPayload):
    claim_id: str
    claim_type: str
    voucher_id: str | None = None
    person_key: str
    amount: Decimal
    batch_reference: str
    reason: str
    returned_at: datetime


@registry.register("subsidy.claim_expired.v1", SUBSIDY_TOPIC, "A claim was not paid by the P5 deadline")
class ClaimExpired(EventPayload):
    claim_id: str
    claim_type: str
    voucher_id: str | None = None
    person_key: str
    amount: Decimal
    policy_year: int
    expired_at: datetime


@registry.register("subsidy.deadline_warning.v1", SUBSIDY_TOPIC, "Claims of a payee near the P5 deadline")
class DeadlineWarning(EventPayload):
    policy_year: int
    days_before: int
    declarant_type: str
    declarant_id: str
    claim_count: int
    amount: Decimal
    deadline: datetime


@registry.register("subsidy.recovery_settled.v1", SUBSIDY_TOPIC, "A recovery (追回) was offset or refunded")
class RecoverySettled(EventPayload):
    recovery_id: str
    claim_id: str
    payee_type: str
    payee_id: str | None = None
    amount: Decimal
    settlement: str  # offset | refund
    reference: str
    settled_at: datetime
