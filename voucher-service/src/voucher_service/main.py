"""The voucher service (发券): `uvicorn voucher_service.main:create --factory`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from skillkit.app import create_app
from skillkit.audit import audit_router
from skillkit.runtime import PeriodicJob, ServiceRuntime

from voucher_service.adapters.models import kit_tables
from voucher_service.adapters.wechat import build_wechat
from voucher_service.api import auth, vouchers, workers
from voucher_service.config import VoucherSettings
from voucher_service.rotate_keys import ENCRYPTED_COLUMNS
from voucher_service.consumers import consumer_specs
from voucher_service.jobs.expiry import sweep_expired
from voucher_service.jobs.notifications import queue_expiry_reminders, send_due


def create(settings: VoucherSettings | None = None) -> FastAPI:
    settings = settings or VoucherSettings()
    wechat = build_wechat(settings)  # WeChat's server API (login, subscribe messages)
    periodic = [PeriodicJob("voucher-expiry", settings.expiry_sweep_seconds, sweep_expired)]
    if settings.notifications_enabled:
        async def send(sessionmaker: Any) -> None:
            await send_due(sessionmaker, wechat, settings)

        periodic += [PeriodicJob("voucher-expiry-reminders", settings.expiry_reminder_seconds, queue_expiry_reminders),
                     PeriodicJob("notification-sender", settings.notification_send_seconds, send)]
    runtime = ServiceRuntime(settings, kit_tables, consumers=consumer_specs(settings), periodic=periodic,
                             encrypted_columns=ENCRYPTED_COLUMNS)  # issue 16: no start while a retired key is in use
    app = create_app(
        runtime,
        [auth.router, workers.router, workers.rosters, vouchers.router, audit_router()],  # audit: P10
        title="临县技能培训券 · 发券服务 Voucher service",
        description="Workers (劳动者), electronic training vouchers, eligibility (E1–E4), QR codes, expiry.",
    )
    app.state.wechat = wechat
    return app
