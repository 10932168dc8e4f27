"""Request and response bodies of the certification API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import CertificateType

PersonName = Annotated[str, StringConstraints(min_length=2, max_length=30, pattern=r"^[\u4e00-\u9fff·A-Za-z ]+$")]
Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class InstitutionStatus(StrEnum):
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class CertificateRevocationReason(StrEnum):
    FRAUD = "fraud"
    ERROR = "error"


class FilingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occupation_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    level: int | None = None
    certificate_type: CertificateType


class InstitutionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "临县职业技能评价中心",
                    "credit_code": "91110000600037341L",
                    "filings": [{"occupation_code": "4-10-01-05", "level": 5, "certificate_type": "skill_level"}],
                }
            ]
        },
    )

    name: Annotated[str, StringConstraints(min_length=2, max_length=200)]
    credit_code: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    filings: list[FilingIn] = Field(default_factory=list, max_length=500)


class FilingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filings: list[FilingIn] = Field(max_length=500)


class InstitutionStatusIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "suspended", "reason": "评价过程不规范，停业整顿"}]}
    )

    status: InstitutionStatus
    reason: Note | None = None


class FilingOut(BaseModel):
    occupation_code: str
    occupation_name: str
    level: int | None
    level_label: str | None
    certificate_type: CertificateType
    certificate_type_label: str


class InstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    credit_code: str
    status: InstitutionStatus
    status_label: str
    status_reason: str | None
    filings: list[FilingOut]
    created_at: datetime
    updated_at: datetime


class EvaluationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "occupation_code": "4-10-01-05",
                    "level": 5,
                    "certificate_type": "skill_level",
                    "scheduled_on": "2026-12-10",
                }
            ]
        },
    )

    occupation_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    level: int | None = None
    certificate_type: CertificateType
    scheduled_on: date


class EvaluationOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    occupation_code: str
    occupation_name: str
    level: int | None
    level_label: str | None
    certificate_type: CertificateType
    certificate_type_label: str
    scheduled_on: date
    created_at: datetime


class CandidateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "张三", "id_number": "141124200501011234", "free_student_evaluation": True, "graduation_year": 2027}
            ]
        },
    )

    name: PersonName
    id_number: Annotated[str, StringConstraints(min_length=15, max_length=20)]
    free_student_evaluation: bool = False  # E7
    graduation_year: int | None = None


class CandidateOut(BaseModel):
    id: uuid.UUID
    evaluation_id: uuid.UUID
    name: str
    id_number_masked: str
    unknown_person: bool
    free_student_evaluation: bool
    graduation_year: int | None
    theory_score: Decimal | None
    practical_score: Decimal | None
    passed: bool | None
    result_recorded_at: datetime | None
    created_at: datetime


class ResultIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"theory_score": "78.5", "practical_score": "82"}]}
    )

    theory_score: Decimal | None = None
    practical_score: Decimal | None = None
    passed: bool | None = None


class RowError(BaseModel):
    line: int
    code: str
    detail: str


class UploadOut(BaseModel):
    applied: int
    rejected: int
    results: list[CandidateOut]
    row_errors: list[RowError]


class CertificateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"candidate_id": "7f0c1c1e-1111-4c1a-9a57-1a2b3c4d5e6f"}]}
    )

    candidate_id: uuid.UUID


class CertificateOut(BaseModel):
    id: uuid.UUID
    certificate_no: str
    display_no: str
    holder_name: str
    certificate_type: CertificateType
    certificate_type_label: str
    occupation_code: str
    occupation_name: str
    level: int | None
    level_label: str | None
    issued_on: date
    institution_id: uuid.UUID
    evaluation_id: uuid.UUID
    candidate_id: uuid.UUID
    free_student_evaluation: bool
    graduation_year: int | None
    status: Literal["valid", "revoked"]
    revoked_reason: str | None
    revoked_at: datetime | None


class RefusedCandidate(BaseModel):
    candidate_id: uuid.UUID
    name: str
    code: str
    detail: str


class BatchIssueOut(BaseModel):
    issued: int
    refused: int
    certificates: list[CertificateOut]
    refusals: list[RefusedCandidate]


class RevokeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "fraud", "note": "冒名顶替参加考评"}]}
    )

    reason: CertificateRevocationReason
    note: Note | None = None


class VerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"certificate_no": "141124-2026-000001-K", "holder_name": "张三"}]},
    )

    certificate_no: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    holder_name: Annotated[str, StringConstraints(min_length=1, max_length=30)]


class VerifyOut(BaseModel):
    result: Literal["valid", "revoked", "unknown"]
    result_label: str
    certificate_no: str | None = None
    holder_name_masked: str | None = None
    certificate_type: CertificateType | None = None
    certificate_type_label: str | None = None
    occupation_code: str | None = None
    occupation_name: str | None = None
    level: int | None = None
    level_label: str | None = None
    issued_on: date | None = None
    institution_name: str | None = None
    revoked_on: date | None = None


class WorkforceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"workforce_size": 12000}]})

    workforce_size: int = Field(ge=1, le=10_000_000)


class WorkforceOut(BaseModel):
    township: str
    workforce_size: int
    updated_at: datetime


class TownshipHolding(BaseModel):
    township: str
    holders: int
    workforce_size: int | None
    holding_rate: Decimal | None  # fraction, 4 decimals ("0.3250")
    meets_target: bool | None


class HoldingRateOut(BaseModel):
    """T4: certificate holders (distinct persons with a valid certificate) against the workforce."""

    target: Decimal
    townships: list[TownshipHolding]
    holders_without_township: int
    county_holders: int
    county_workforce: int
    county_holding_rate: Decimal | None
    county_meets_target: bool | None
