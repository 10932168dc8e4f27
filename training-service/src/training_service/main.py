"""The training service: `uvicorn training_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.audit import audit_router
from skillkit.clock import Clock
from skillkit.runtime import PeriodicJob, ServiceRuntime

from training_service import clock as training_clock
from training_service.api import clock as clock_api
from training_service.adapters.models import kit_tables
from training_service.api import catalogues, classes, enrolments, enterprises, open_classes, realname
from training_service.config import TrainingSettings
from training_service.rotate_keys import ENCRYPTED_COLUMNS
from training_service.consumers import consumer_specs
from training_service.jobs.catalogue import import_catalogue
from training_service.jobs.province_resend import resend_overdue
from training_service.jobs.s6_windows import close_due_s6_windows


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
    runtime = ServiceRuntime(settings, kit_tables, consumers=consumer_specs(settings), periodic=periodic_jobs(settings),
                             encrypted_columns=ENCRYPTED_COLUMNS,  # issue 16: no start while a retired key is in use
                             on_start=lambda sessionmaker: import_catalogue(sessionmaker, settings))
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
