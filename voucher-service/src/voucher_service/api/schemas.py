"""Request and response bodies of the voucher API."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import CategoryOffice, CategoryReviewStatus, RevocationReason, VoucherKind, WorkerCategory
from skillkit.county import CountyTime
from skillkit.names import display_name

from voucher_service.handlers.inputs import EvidenceReference
from voucher_service.handlers.inputs import NewWorker as WorkerIn  # noqa: F401  (the request body)



class WorkerOut(BaseModel):
    id: uuid.UUID
    name: str
    id_number_masked: str
    mobile_masked: str = Field(description="`138****5678`, in every answer")
    mobile: str | None = Field(description="in full only to the worker's own account (GET /v1/workers/me, the "
                                           "WeChat login); null elsewhere: staff reveal it with a reason")
    township: str
    categories: list[WorkerCategory]
    on_behalf: bool
    created_at: CountyTime


class RegistrationReferredOut(BaseModel):
    status: str = Field(examples=["referred_to_bureau"])
    status_label: str = Field(examples=["已转人工核实"])
    detail: str


class MobileRevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "学员来电更正联系方式，需核对原号码"}]})

    # Written to the audit trail (P10): say why, in words a reviewer can check later.
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=500)]


class MobileRevealOut(BaseModel):
    worker_id: uuid.UUID
    mobile: str


class VoucherClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kind": "inclusive"}]})

    kind: VoucherKind


class VoucherIssueIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"worker_id": "7f0c1c1e-1111-4c1a-9a57-1a2b3c4d5e6f", "kind": "order"}]},
    )

    worker_id: uuid.UUID
    kind: VoucherKind
    batch_id: uuid.UUID | None = None


class VoucherOut(BaseModel):
    id: uuid.UUID
    code: str
    display_code: str
    kind: VoucherKind
    kind_label: str
    status: str
    status_label: str
    policy_year: int
    valid_from: CountyTime
    valid_until: CountyTime
    worker_id: uuid.UUID
    batch_id: uuid.UUID | None
    channel: str
    enrolment_id: str | None = None
    class_id: str | None = None
    revoked_reason: str | None = None
    qr_token: str


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "duplicate", "note": "重复领取"}]})

    reason: RevocationReason
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "2026年第四季度订单班", "kind": "order", "validity_days": 120}]},
    )

    name: display_name(200, min_length=2)  # type: ignore[valid-type]
    kind: VoucherKind
    validity_days: int = Field(ge=1, le=366)
    class_reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class BatchOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: VoucherKind
    policy_year: int
    validity_days: int
    channel: str
    class_reference: str | None
    created_at: CountyTime


class QrVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(min_length=10, max_length=4000)]


class BulkRowError(BaseModel):
    line: int
    errors: list[str]


class BulkIssueOut(BaseModel):
    batch_id: uuid.UUID
    issued: int
    rejected: int
    vouchers: list[VoucherOut]
    row_errors: list[BulkRowError]


class CategoryReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"categories": ["poverty_alleviated_labour"], "status": "confirmed",
         "evidence_reference": "临县脱贫人口信息系统 档案号 LX2021-0412", "note": "乡镇便民服务中心核对户口簿"},
        {"categories": ["new_business_founder"], "status": "confirmed", "evidence_reference": "营业执照 92141124MA0XXXXXXX",
         "licence_issued_on": "2026-05-18"}]})

    categories: list[WorkerCategory] = Field(min_length=1, max_length=12)
    status: Literal[CategoryReviewStatus.CONFIRMED, CategoryReviewStatus.REJECTED]
    evidence_reference: EvidenceReference  # what the decision rests on (a file number, a register's entry)
    licence_issued_on: date | None = Field(default=None, description="E2: the business licence's issue date, "
                                                                     "required to confirm new_business_founder")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class CategoryStateOut(BaseModel):
    category: WorkerCategory
    label: str
    status: CategoryReviewStatus
    status_label: str
    source: str | None = Field(description="`staff`, or the office whose roster confirmed it; null while claimed")
    source_label: str | None
    evidence_reference: str | None
    licence_issued_on: date | None
    reviewed_by: str | None
    reviewed_at: CountyTime | None


class WorkerCategoriesOut(BaseModel):
    worker_id: uuid.UUID
    categories: list[CategoryStateOut]


class CategoryRosterOut(BaseModel):
    office: CategoryOffice
    category: WorkerCategory
    reference: str
    confirmed: int
    unchanged: int = Field(description="lines the register had already confirmed the same way: nothing written")
    rejected: int
    row_errors: list[BulkRowError]
