"""Response and request bodies of the subsidy API. Money is a decimal string in yuan ("1000.00")."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skillkit.county import CountyTime

from subsidy_service.domain.policy import PolicyTableChange


class ReasonOut(BaseModel):
    code: str
    zh: str
    en: str


class LinkOut(BaseModel):
    name: str
    label: str
    status: str  # ok | missing | broken | not_required
    status_label: str
    event_ids: list[str]
    code: str | None = None
    zh: str | None = None
    en: str | None = None
    note: str | None = None


class ClaimLineOut(BaseModel):
    rule_id: str
    text: str
    amount: Decimal


class ClaimOut(BaseModel):
    id: uuid.UUID
    claim_type: str
    claim_type_label: str
    part: str
    person_key: str
    voucher_id: str | None
    certificate_id: str | None
    institution_id: str | None
    payee_type: str
    payee_id: str | None
    kind: str
    policy_year: int
    table_year: int | None
    table_version: int | None
    amount: Decimal = Field(examples=["1900.00"])
    lines: list[ClaimLineOut]
    rule_ids: list[str]
    state: str
    state_label: str
    reason: ReasonOut | None
    missing: list[ReasonOut]
    recovery_pending: bool
    created_at: CountyTime
    updated_at: CountyTime
    eligible_at: CountyTime | None
    paid_at: CountyTime | None


class ChainOut(BaseModel):
    voucher_id: str
    kind: str | None
    kind_label: str | None
    policy_year: int | None
    enrolment_id: str | None
    class_id: str | None
    institution_id: str | None
    certificate_id: str | None
    status: str  # complete | waiting | held | broken
    status_label: str
    links: list[LinkOut]
    problems: list[ReasonOut]
    claims: list[ClaimOut]
    updated_at: CountyTime


class AmountByState(BaseModel):
    state: str
    state_label: str
    claim_type: str
    count: int
    amount: Decimal


class ClaimSummary(BaseModel):
    scope: str
    totals: list[AmountByState]


class CertificateOut(BaseModel):
    certificate_id: str
    certificate_no: str
    certificate_type: str
    occupation_code: str
    level: int | None
    issued_on: date
    institution_id: str
    revoked: bool
    evaluation_claim: ClaimOut | None


class AllowanceOut(BaseModel):
    awaited: Decimal  # waiting, eligible, held, declared … not yet paid
    paid: Decimal
    claims: list[ClaimOut]


class RecoveryOut(BaseModel):
    id: uuid.UUID
    claim_id: uuid.UUID
    person_key: str
    payee_type: str
    payee_id: str | None
    amount: Decimal
    reason: ReasonOut
    state: str
    created_at: CountyTime


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    reason: str | None = Field(default=None, max_length=500)


PolicyTableIn = PolicyTableChange  # the request body of PUT /v1/policy-tables/{year}


class PolicyTableOut(BaseModel):
    policy_year: int
    version: int
    effective_from: date
    effective_to: date
    changed_by: str
    changed_at: CountyTime
    note: str | None
    rules: dict[str, Any]


class PolicyTableSummary(BaseModel):
    policy_year: int
    version: int
    effective_from: date
    effective_to: date
    changed_by: str
    changed_at: CountyTime
    note: str | None
