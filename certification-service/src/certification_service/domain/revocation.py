"""The revocation body (fraud, error); api/schemas.py re-exports it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Note = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CertificateRevocationReason(StrEnum):
    FRAUD = "fraud"
    ERROR = "error"


class RevokeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "fraud", "note": "冒名顶替参加考评"}]}
    )

    reason: CertificateRevocationReason
    note: Note | None = None
