"""Request and response bodies of the certification API."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import CertificateType
from skillkit.county import CountyTime

from certification_service.domain.institutions import InstitutionStatus
from certification_service.domain.uploads import RowError
# The bodies the handlers take (handlers/inputs.py) and the report they return, re-exported so the API has one place
# for its schemas.
from certification_service.handlers.inputs import (  # noqa: F401
    CandidateIn, EvaluationIn, FilingsIn, InstitutionIn, InstitutionStatusIn, RevokeIn,
)
from certification_service.handlers.reports import HoldingRateOut  # noqa: F401


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
    created_at: CountyTime
    updated_at: CountyTime


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
    created_at: CountyTime


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
    result_recorded_at: CountyTime | None
    created_at: CountyTime


class ResultIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"theory_score": "78.5", "practical_score": "82"}]}
    )

    theory_score: Decimal | None = None
    practical_score: Decimal | None = None
    passed: bool | None = None


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
    revoked_at: CountyTime | None


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
    updated_at: CountyTime
