"""The training service: `uvicorn training_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from skillkit.app import create_app
from skillkit.audit import audit_router
from skillkit.clock import Clock
from skillkit.locks import lock_key, take_locks
from skillkit.runtime import PeriodicJob, ServiceRuntime

from training_service import clock as training_clock
from training_service.adapters.catalogue import import_occupations
from training_service.api import clock as clock_api
from training_service.adapters.models import kit_tables
from training_service.api import catalogues, classes, enrolments, enterprises, open_classes, realname
from training_service.config import TrainingSettings
from training_service.rotate_keys import ENCRYPTED_COLUMNS
from training_service.consumers import consumer_specs
from training_service.handlers.training import close_due_s6_windows
from training_service.handlers.realname import resend_overdue


class TrainingRuntime(ServiceRuntime):
    """The kit's runtime, plus the occupation catalogue import (idempotent upsert) at start-up."""

    async def start(self) -> None:
        await super().start()
        assert self.sessionmaker is not None
        async with self.sessionmaker() as session:
            # Replicas starting together import one after the other (issue 18): without the lock the second's
            # INSERTs met the first's at flush (a unique violation) or their UPDATEs deadlocked, and it crashed.
            await take_locks(session, [(lock_key("training"), lock_key("occupations-import"), True)])
            try:
                await import_occupations(session, self.settings.occupations_csv)  # type: ignore[attr-defined]
                await session.commit()
            except IntegrityError:  # SQLite (no advisory lock): another process imported the same rows just now
                await session.rollback()


ROUTERS = [catalogues.router, enterprises.router, classes.router, enrolments.router, open_classes.router, realname.router,
           audit_router()]  # audit: P10


def periodic_jobs(settings: TrainingSettings) -> list[PeriodicJob]:
    """P1: unanswered province records re-sent after the timeout, escalated after the last attempt. S6: licence
    windows whose six months have passed closed with the final rates."""
    jobs = [PeriodicJob("s6-window-close", settings.s6_window_close_every_seconds,
                        lambda sessionmaker: close_due_s6_windows(sessionmaker, settings))]
    if settings.province_realname_enabled:
        jobs.append(PeriodicJob("province-resend", settings.province_resend_every_seconds,
                                lambda sessionmaker: resend_overdue(sessionmaker, settings)))
    return jobs


def create(settings: TrainingSettings | None = None) -> FastAPI:
    settings = settings or TrainingSettings()
    runtime = TrainingRuntime(settings, kit_tables, consumers=consumer_specs(settings), periodic=periodic_jobs(settings))
    runtime.encrypted_columns = ENCRYPTED_COLUMNS  # issue 16: no start while a retired key is still in use
    # The days recorded are judged against this clock; only development and test settings may move it.
    clock = Clock(movable=settings.movable_clock)
    app = create_app(
        runtime,
        ROUTERS + ([clock_api.router] if settings.movable_clock else []),
        title="临县技能培训券 · 培训服务 Training service",
        description="Institutions and occupation catalogues (两目录), classes, enrolment by voucher, attendance, completion, follow-up, province real-name feed.",
    )
    app.state.clock = clock
    app.add_middleware(training_clock.ClockScope, clock=clock)
    return app
