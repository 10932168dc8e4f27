"""The subsidy service: `uvicorn subsidy_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.runtime import ServiceRuntime

from subsidy_service.adapters.models import kit_tables
from subsidy_service.config import SubsidySettings


def create(settings: SubsidySettings | None = None) -> FastAPI:
    settings = settings or SubsidySettings()
    runtime = ServiceRuntime(settings, kit_tables, consumers=[])
    return create_app(
        runtime,
        [],
        title="临县技能培训券 · 兑现服务 Subsidy service",
        description="Chain projection, policy tables, claims, declarations, payments, disclosure.",
    )
