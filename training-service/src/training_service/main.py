"""The training service: `uvicorn training_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.runtime import ServiceRuntime

from training_service.adapters.models import kit_tables
from training_service.config import TrainingSettings


def create(settings: TrainingSettings | None = None) -> FastAPI:
    settings = settings or TrainingSettings()
    runtime = ServiceRuntime(settings, kit_tables, consumers=[])
    return create_app(
        runtime,
        [],
        title="临县技能培训券 · 培训服务 Training service",
        description="Institutions and occupation catalogues (两目录), classes, enrolment by voucher, attendance, completion, follow-up, province real-name feed.",
    )
