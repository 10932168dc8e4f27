"""Certification service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from skillkit.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    service_name: str = "certification-service"
    database_url: str = "sqlite+aiosqlite:///./var/certification.db"
