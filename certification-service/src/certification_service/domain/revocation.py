"""Why a certificate may be revoked (fraud, error)."""

from __future__ import annotations

from enum import StrEnum


class CertificateRevocationReason(StrEnum):
    FRAUD = "fraud"
    ERROR = "error"
