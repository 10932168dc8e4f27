"""The certification service (持证): `uvicorn certification_service.main:create --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.audit import audit_router
from skillkit.ratelimit import SharedWindowLimiter
from skillkit.runtime import ServiceRuntime

from certification_service.adapters.models import RateLimitHit, kit_tables
from certification_service.api import certificates, evaluations, institutions, public, reports
from certification_service.config import CertificationSettings
from certification_service.rotate_keys import ENCRYPTED_COLUMNS
from certification_service.consumers import consumer_specs

ROUTERS = [
    institutions.router,
    evaluations.router,
    certificates.router,
    certificates.batch_router,
    public.router,
    reports.router,
    audit_router(),  # P10
]


def create(settings: CertificationSettings | None = None) -> FastAPI:
    settings = settings or CertificationSettings()
    runtime = ServiceRuntime(settings, kit_tables, consumers=consumer_specs(settings),
                             encrypted_columns=ENCRYPTED_COLUMNS)  # issue 16: no start while a retired key is in use
    app = create_app(
        runtime,
        ROUTERS,
        title="临县技能培训券 · 持证服务 Certification service",
        description=(
            "Evaluation institutions and their filings (I2, I3), evaluations and results, certificates "
            "(S8 types, E5, E7), public verification, revocation, and the holding rate (T4)."
        ),
    )
    app.state.verify_limiter = SharedWindowLimiter(
        RateLimitHit.__table__, "certificate-checks", settings.verify_rate_limit, settings.verify_rate_window_seconds,
        lambda: runtime.sessionmaker, settings.blind_index_secret,
    )
    return app
