"""The subsidy service (兑现): `uvicorn subsidy_service.main:create --factory`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.audit import add_audit_table, audit_router
from skillkit.clock import Clock
from skillkit.ratelimit import SharedWindowLimiter
from skillkit.runtime import PeriodicJob, ServiceRuntime

from subsidy_service.adapters import report_models, settlement_models  # noqa: F401  (their tables on the metadata)
from subsidy_service.adapters.kafka_lag import LagReader
from subsidy_service.adapters.models import kit_tables
from subsidy_service.adapters.report_models import RateLimitHit
from subsidy_service.api import chains, claims, declarations, disclosure, me, pages, payments, policy, reports
from subsidy_service.config import SubsidySettings
from subsidy_service.consumers import consumer_specs
from subsidy_service.jobs.deadline import deadline_job
from subsidy_service.jobs.policy_seed import seed_policy_tables
from subsidy_service.jobs.report_refresh import refresh_job
from subsidy_service.metrics import metrics_job


def create(settings: SubsidySettings | None = None) -> FastAPI:
    settings = settings or SubsidySettings()
    lag_reader = LagReader(settings.kafka_bootstrap)
    report_cache = reports.ReportCache()

    async def refresh_reports(sessionmaker: Any) -> None:
        await refresh_job(sessionmaker)  # the read models catch up, then the dashboard's opening view is computed
        await reports.warm(sessionmaker, report_cache, settings.report_township_workforce)

    runtime = ServiceRuntime(settings, kit_tables, consumers=consumer_specs(settings), on_start=seed_policy_tables,
                             periodic=[PeriodicJob("p5-deadline", settings.deadline_sweep_seconds, deadline_job),
                                       PeriodicJob("report-refresh", settings.report_refresh_seconds, refresh_reports),
                                       PeriodicJob("report-metrics", settings.report_metrics_seconds,
                                                   metrics_job(settings.report_township_workforce, lag_reader))])
    app = create_app(
        runtime,
        [chains.router, claims.router, me.router, policy.router, declarations.router, payments.router,
         reports.router, disclosure.router, audit_router()],
        title="临县技能培训券 · 兑现服务 Subsidy service",
        description="Chain projection, policy tables, claims, declarations, payments, disclosure.",
    )
    app.state.clock = Clock(movable=settings.environment != "production")
    # Reports, the dashboard and the disclosure page (issue 14)
    app.state.lag_reader = lag_reader
    app.state.report_cache = report_cache
    app.state.disclosure_limiter = SharedWindowLimiter(
        RateLimitHit.__table__, "disclosure", settings.disclosure_rate_limit, settings.disclosure_rate_window_seconds,
        lambda: runtime.sessionmaker, settings.blind_index_secret)
    app.state.disclosure_cache = disclosure.TtlCache(settings.disclosure_cache_seconds)
    pages.mount(app)
    return app
