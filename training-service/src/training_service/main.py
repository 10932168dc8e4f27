"""The training service: `uvicorn training_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from skillkit.app import create_app
from skillkit.audit import audit_router
from skillkit.runtime import ServiceRuntime

from training_service.adapters.catalogue import import_occupations
from training_service.adapters.models import kit_tables
from training_service.api import catalogues, classes, enrolments, open_classes
from training_service.config import TrainingSettings
from training_service.consumers import consumer_specs


class TrainingRuntime(ServiceRuntime):
    """The kit's runtime, plus the occupation catalogue import (idempotent upsert) at start-up."""

    async def start(self) -> None:
        await super().start()
        assert self.sessionmaker is not None
        async with self.sessionmaker() as session:
            await import_occupations(session, self.settings.occupations_csv)  # type: ignore[attr-defined]
            try:
                await session.commit()
            except IntegrityError:  # another replica imported the same rows at the same moment
                await session.rollback()


ROUTERS = [catalogues.router, classes.router, enrolments.router, open_classes.router, audit_router()]  # audit: P10


def create(settings: TrainingSettings | None = None) -> FastAPI:
    settings = settings or TrainingSettings()
    runtime = TrainingRuntime(settings, kit_tables, consumers=consumer_specs(settings))
    return create_app(
        runtime,
        ROUTERS,
        title="临县技能培训券 · 培训服务 Training service",
        description="Institutions and occupation catalogues (两目录), classes, enrolment by voucher, attendance, completion, follow-up, province real-name feed.",
    )
