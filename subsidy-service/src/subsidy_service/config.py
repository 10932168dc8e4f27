"""Subsidy service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from skillkit.settings import ServiceSettings


class SubsidySettings(ServiceSettings):
    service_name: str = "subsidy-service"
    database_url: str = "sqlite+aiosqlite:///./var/subsidy.db"
