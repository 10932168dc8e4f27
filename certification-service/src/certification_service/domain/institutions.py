"""Institution bodies (registration, filings I2, status I3); api/schemas.py re-exports them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skillkit.contracts.vocab import CertificateType
from skillkit.names import display_name

from certification_service.domain.revocation import Note


class InstitutionStatus(StrEnum):
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


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


