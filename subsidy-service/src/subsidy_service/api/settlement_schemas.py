"""Request and response bodies of settlement: payees' accounts, declarations, funds, payment batches."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skillkit.county import CountyTime



class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(_In):
    account_name: str = Field(min_length=1, max_length=200, examples=["临县技能培训学校"])
    account_number: str = Field(min_length=8, max_length=40, examples=["6222020200112233445"])
    bank_name: str = Field(min_length=1, max_length=100, examples=["中国工商银行临县支行"])
    bank_city: str = Field(min_length=1, max_length=50, examples=["吕梁"])


class AccountOut(BaseModel):
    payee_type: str
    payee_id: str
    version: int
    account_name: str
    account_number_masked: str
    bank_name: str
    bank_city: str
    changed_by: str
    changed_role: str
    changed_at: CountyTime


class DeclarationIn(_In):
    year: int = Field(ge=2000, le=2100)
    quarter: int = Field(ge=1, le=4)
    # Only the bureau names a declarant: "worker" for the county's declaration of the workers' S4 allowances.
    declarant_type: Literal["institution", "evaluation_institution", "worker"] | None = None


class FlagOut(BaseModel):
    code: str
    rule_id: str
    zh: str
    en: str
    detail: str | None = None


class DeclarationOut(BaseModel):
    id: uuid.UUID
    declarant_type: str
    declarant_id: str
    year: int
    quarter: int
    state: str
    state_label: str
    line_count: int
    amount: Decimal
    flags: list[FlagOut]
    held_back_order_classes: list[str] = Field(default_factory=list)
    opened_by: str
    opened_at: CountyTime
    submitted_at: CountyTime | None = None
    verified_at: CountyTime | None = None
    approved_at: CountyTime | None = None


class LineOut(BaseModel):
    id: uuid.UUID
    line_no: int
    claim_id: uuid.UUID | None
    recovery_id: uuid.UUID | None
    payee_type: str
    payee_id: str
    person_key: str
    claim_type: str
    kind: str
    policy_year: int
    table_year: int | None
    table_version: int | None
    amount: Decimal
    lines: list[dict[str, Any]]
    rule_ids: list[str]
    evidence: dict[str, Any]
    flags: list[FlagOut]
    decision: str
    decision_reason: str | None
    decided_by: str | None
    sampled: bool
    sample_checked: bool
    claim_state: str | None = None
    changed_after_declaration: bool = False
    current_amount: Decimal | None = None


class DecisionIn(_In):
    approved: bool
    reason: str | None = Field(default=None, max_length=500)


class EvidenceCheckIn(_In):
    note: str = Field(min_length=1, max_length=500, examples=["已核对签到表与监控录像"])


class EvidenceLineIn(_In):
    line_id: uuid.UUID
    note: str = Field(min_length=1, max_length=500)


class EvidenceChecksIn(_In):
    checks: list[EvidenceLineIn] = Field(min_length=1, max_length=1000)


class CountOut(BaseModel):
    approved_lines: int


class CheckedOut(BaseModel):
    checked_lines: int


class AllocationIn(_In):
    year: int = Field(ge=2000, le=2100)
    code: Literal["skills_special", "employment_subsidy", "reward_2021"]
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    reference: str = Field(min_length=1, max_length=100, examples=["吕财社〔2023〕12号"])
    note: str | None = Field(default=None, max_length=500)


class FundOut(BaseModel):
    id: uuid.UUID
    year: int
    code: str
    label: str
    allocated: Decimal
    reserved: Decimal
    paid: Decimal
    available: Decimal


class LedgerEntryOut(BaseModel):
    id: int
    fund_id: uuid.UUID
    entry_type: str
    amount: Decimal
    batch_id: uuid.UUID | None
    recovery_id: uuid.UUID | None
    reference: str | None
    created_by: str
    created_at: CountyTime


class BatchIn(_In):
    declaration_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class TransferOut(BaseModel):
    seq: int
    payee_type: str
    payee_id: str
    account_name: str
    account_number_masked: str
    bank_name: str
    bank_city: str
    gross: Decimal
    offset: Decimal
    amount: Decimal
    state: str
    bank_reason: str | None


class BatchOut(BaseModel):
    id: uuid.UUID
    reference: str
    state: str
    total: Decimal
    transfer_count: int
    claim_count: int
    declaration_ids: list[str]
    draws: list[dict[str, Any]]
    approved_by: str
    approved_at: CountyTime
    exported_at: CountyTime | None
    settled_at: CountyTime | None
    transfers: list[TransferOut] = Field(default_factory=list)


class DeadlineRow(BaseModel):
    """P5: a payee's unpaid claims of one policy year and the instant they expire (county midnight after 31 March)."""

    policy_year: int
    payee_type: str
    payee_id: str
    claims: int
    amount: Decimal = Field(examples=["1900.00"])
    deadline: CountyTime = Field(examples=["2027-04-01T00:00:00+08:00"])
    days_left: int


class ImportOut(BaseModel):
    batch_id: str
    reference: str
    file_sha256: str
    paid: int
    failed: int
    returned: int
    paid_amount: Decimal
    failed_amount: Decimal
    returned_amount: Decimal
    replayed: bool


class RefundIn(_In):
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    reference: str = Field(min_length=1, max_length=100)
