"""Events produced by the voucher service (topic skills.voucher.v1). Keyed by the holder's person key."""

from __future__ import annotations

from datetime import date, datetime

from skillkit.contracts.topics import VOUCHER_TOPIC
from skillkit.contracts.vocab import (
    BindingRejection,
    CategoryReviewStatus,
    RevocationReason,
    VoucherKind,
    WorkerCategory,
)
from skillkit.events import EventPayload, registry


@registry.register("worker.registered.v1", VOUCHER_TOPIC, "A worker (劳动者) was registered, by self-service or by staff (P2)")
class WorkerRegistered(EventPayload):
    worker_id: str
    person_key: str
    account_subject: str | None = None
    masked_name: str
    township: str
    categories: list[WorkerCategory]
    on_behalf: bool
    registered_by: str


@registry.register(
    "worker.account_linked.v1", VOUCHER_TOPIC, "A worker registered by staff linked their own app account"
)
class WorkerAccountLinked(EventPayload):
    worker_id: str
    person_key: str
    account_subject: str


@registry.register(
    "worker.category_reviewed.v1", VOUCHER_TOPIC,
    "A worker's category (E1–E3) was confirmed or rejected on evidence: by staff, or by the owning office's roster "
    "(issue 13); the newest review of a (person, category) stands",
)
class WorkerCategoryReviewed(EventPayload):
    worker_id: str
    person_key: str
    category: WorkerCategory
    status: CategoryReviewStatus  # confirmed | rejected
    source: str  # "staff" or the office whose roster confirmed it (CategoryOffice)
    evidence_reference: str
    # E2: the founder's business licence issue date (new_business_founder only); the subsidy chain checks it
    # against the enrolment date
    licence_issued_on: date | None = None
    reviewed_by: str
    reviewed_at: datetime


@registry.register("voucher.issued.v1", VOUCHER_TOPIC, "An electronic training voucher was issued (发券)")
class VoucherIssued(EventPayload):
    voucher_id: str
    code: str
    worker_id: str
    person_key: str
    kind: VoucherKind
    policy_year: int
    valid_from: datetime
    valid_until: datetime
    batch_id: str | None = None
    channel: str  # claim | on_behalf | bulk
    categories: list[WorkerCategory]
    living_allowance_eligible: bool  # E3
    issued_by: str


@registry.register("voucher.bound.v1", VOUCHER_TOPIC, "A voucher was bound to a training enrolment")
class VoucherBound(EventPayload):
    voucher_id: str
    person_key: str
    enrolment_id: str
    class_id: str
    institution_id: str
    bound_at: datetime


@registry.register("voucher.binding_rejected.v1", VOUCHER_TOPIC, "A voucher could not be bound to an enrolment")
class VoucherBindingRejected(EventPayload):
    voucher_id: str
    person_key: str
    enrolment_id: str
    reason: BindingRejection
    detail: str


@registry.register("voucher.expired.v1", VOUCHER_TOPIC, "An unbound voucher passed its validity window")
class VoucherExpired(EventPayload):
    voucher_id: str
    person_key: str
    expired_at: datetime


@registry.register("voucher.revoked.v1", VOUCHER_TOPIC, "A voucher was revoked with a reason")
class VoucherRevoked(EventPayload):
    voucher_id: str
    person_key: str
    reason: RevocationReason
    note: str | None = None
    revoked_by: str
    revoked_at: datetime


@registry.register("voucher.redeemed.v1", VOUCHER_TOPIC, "The subsidy on a voucher was paid (兑现)")
class VoucherRedeemed(EventPayload):
    voucher_id: str
    person_key: str
    claim_id: str
    redeemed_at: datetime
