"""Training service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from skillkit.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    service_name: str = "training-service"
    database_url: str = "sqlite+aiosqlite:///./var/training.db"
