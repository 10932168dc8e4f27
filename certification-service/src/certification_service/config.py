"""Certification service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from skillkit.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    service_name: str = "certification-service"
    database_url: str = "sqlite+aiosqlite:///./var/certification.db"
    # Occupation codes added to the built-in catalogue (domain/occupations.py), code -> Chinese name,
    # e.g. SKILLS_EXTRA_OCCUPATIONS='{"4-01-02-03": "..."}'.
    extra_occupations: dict[str, str] = {}
    # A score at or above the pass mark passes (both theory and practical, where given).
    pass_mark: Decimal = Decimal("60")
    # Public certificate check: at most this many requests per client address in the sliding window.
    verify_rate_limit: int = 20
    verify_rate_window_seconds: float = 60.0
    # T4: county certificate-holding rate of the workforce, target 32 %.
    holding_rate_target: Decimal = Decimal("0.32")
