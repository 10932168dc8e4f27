"""The certification service: `uvicorn certification_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.runtime import ServiceRuntime

from certification_service.adapters.models import kit_tables
from certification_service.config import CertificationSettings


def create(settings: CertificationSettings | None = None) -> FastAPI:
    settings = settings or CertificationSettings()
    runtime = ServiceRuntime(settings, kit_tables, consumers=[])
    return create_app(
        runtime,
        [],
        title="临县技能培训券 · 持证服务 Certification service",
        description="Evaluation institutions and filings, evaluations, certificates, public verification.",
    )
