"""Voucher service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from skillkit.settings import ServiceSettings
from skillkit.voucher_token import DEV_QR_SIGNING_SEED

from voucher_service.wechat_fake import DEV_APPID, DEV_SECRET

DEV_WECHAT_API_BASE = "http://127.0.0.1:8009"
DEV_WECHAT_TEMPLATES = {key: f"dev-template-{key}" for key in (
    "voucher_issued", "enrolment_bound", "enrolment_refused", "certificate_issued", "allowance_paid",
    "allowance_returned", "voucher_expiring")}  # the local fake (`python -m voucher_service.wechat_fake`)

class VoucherSettings(ServiceSettings):
    service_name: str = "voucher-service"
    database_url: str = "sqlite+aiosqlite:///./var/voucher.db"
    # Seed of the Ed25519 key that signs voucher QR tokens; institutions verify with the public key offline.
    qr_signing_seed: str = DEV_QR_SIGNING_SEED
    # Validity of a self-claimed voucher when no issuing batch says otherwise (configurable per batch).
    default_validity_days: int = 180
    # Working age on the day a voucher is issued (issue 13; the plan names no ages: configurable).
    working_age_min: int = Field(default=16, ge=0, le=100)
    working_age_max: int = Field(default=60, ge=0, le=100)

    @property
    def working_age(self) -> tuple[int, int]:
        return self.working_age_min, self.working_age_max
    expiry_sweep_seconds: float = 60.0
    # The lifecycle consumer's broker fetch waits up to 200 ms for records (the kit's default is 50). On Kafka a fetch
    # returns as soon as a record arrives, so this only spaces out the empty fetches of a quiet consumer; on Tansu
    # (development, the benchmarks) a record waits up to about half of it (measured one hop: p50 52 ms, p99 104 ms
    # against 3 / 33 ms at 50), and records arriving meanwhile are taken in one poll and one transaction. Measured,
    # the service's consumer CPU under a pipeline-like stream (80 chains/s) is 0.99 → 0.74 ms per chain, idle
    # 3.3 → 2.2 % of a core (docs/voucher-service.md). The bindings it answers are not on a path anyone waits
    # for within 100 ms (an institution's enrolment file is bound as a whole, the app polls the enrolment).
    kafka_fetch_max_wait_ms: int = 200

    # WeChat mini-program (adapters/wechat.py). Production sets https://api.weixin.qq.com and the real app's id
    # and secret; it refuses the development values and the in-process fake.
    wechat_api_base: str = DEV_WECHAT_API_BASE
    wechat_appid: str = DEV_APPID
    wechat_secret: str = DEV_SECRET
    # "http": call wechat_api_base; "fake": the fake WeChat mounted in-process (tests, no network at all).
    wechat_transport: Literal["http", "fake"] = "http"
    wechat_fake_unionid: bool = False  # the in-process fake answers a unionid (an Open Platform binding)
    # The worker's tokens from a WeChat login: a short access token, renewed with a longer, rotating refresh token.
    worker_token_minutes: int = 120
    worker_refresh_days: int = 30

    # Subscribe messages (handlers/notifications.py): our template keys -> the template ids the mini-program's team
    # chose in the WeChat console (production sets SKILLS_WECHAT_TEMPLATES as JSON); developer | trial | formal.
    wechat_templates: dict[str, str] = DEV_WECHAT_TEMPLATES
    wechat_miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    notifications_enabled: bool = True  # the notification consumer, the expiry reminders and the sender loop
    notification_send_seconds: float = 2.0
    notification_max_attempts: int = 8  # backoff 5 s doubling, at most an hour: ~10 minutes of WeChat trouble
    notification_lease_seconds: int = 120
    expiry_reminder_seconds: float = 3600.0

    def extra_secret_fields(self) -> tuple[str, ...]:
        return ("qr_signing_seed",)

    def development_values(self) -> dict[str, str]:
        # wechat_secret is refused as the development value only: WeChat issues it (32 hex characters, 128 bits),
        # so the 256-bit rule for the secrets we generate cannot apply to it
        return {"wechat_api_base": DEV_WECHAT_API_BASE, "wechat_appid": DEV_APPID, "wechat_secret": DEV_SECRET}

    @model_validator(mode="after")
    def _working_age_is_a_range(self) -> "VoucherSettings":
        if self.working_age_min > self.working_age_max:
            raise ValueError("working_age_min must not exceed working_age_max")
        return self

    @model_validator(mode="after")
    def _no_fake_wechat_in_production(self) -> "VoucherSettings":
        if self.environment == "production" and self.wechat_transport != "http":
            raise ValueError("production refuses the in-process fake WeChat (wechat_transport)")
        return self
