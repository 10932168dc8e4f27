"""What the certification use cases take: the request bodies, validated once by pydantic.

The handlers take these whole (the candidate upload validates each row with the same model as the single
endpoint's body); the API declares them as its request bodies (`api/schemas.py` re-exports them). They live beside
the handlers, not in `domain/` (which holds rules only) nor in `api/` (which the handlers must not import).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import CertificateType
from skillkit.names import PersonName, display_name

from certification_service.domain.institutions import InstitutionStatus
from certification_service.domain.revocation import CertificateRevocationReason

Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


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

    name: display_name(200, min_length=2)  # type: ignore[valid-type]
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


class RevokeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "fraud", "note": "冒名顶替参加考评"}]}
    )

    reason: CertificateRevocationReason
    note: Note | None = None
