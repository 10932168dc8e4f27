"""The states of an evaluation institution (I3: approved, suspended, revoked)."""

from __future__ import annotations

from enum import StrEnum


class InstitutionStatus(StrEnum):
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
