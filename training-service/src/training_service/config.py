"""Training service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from skillkit import sealed
from skillkit.settings import DEV_SECRET_PREFIX, ServiceSettings
from skillkit.voucher_token import DEV_QR_PUBLIC_KEY

# The province simulator's development key pair (the seed is in the source: development and tests only).
DEV_PROVINCE_KEY_SEED = DEV_SECRET_PREFIX + "province-realname-x25519"
DEV_PROVINCE_PUBLIC_KEY = sealed.public_key_text(sealed.private_key_from_seed(DEV_PROVINCE_KEY_SEED))
DEV_PROVINCE_KEY_ID = "dev-province-1"


class TrainingSettings(ServiceSettings):
    service_name: str = "training-service"
    database_url: str = "sqlite+aiosqlite:///./var/training.db"
    # Public key of the voucher service's QR signing key: QR tokens are verified offline.
    voucher_qr_public_key: str = DEV_QR_PUBLIC_KEY
    # A trainee who attended less than this share of the planned days cannot be completed as passed.
    completion_min_attendance_share: Decimal = Field(default=Decimal("0.80"), ge=0, le=1)
    # Follow-up window after completion (employment, business licence: S2, S6).
    follow_up_months: int = 6
    # A movable clock (PUT /v1/clock) for the demo, the end-to-end test and the benchmarks, which run a multi-day
    # class in seconds; production refuses it at start-up.
    movable_clock: bool = False
    # S6: how often the licence windows that have passed are closed (their final rates reported).
    s6_window_close_every_seconds: float = Field(default=3600, gt=0)
    # P1: send trainees, classes, attendance and completions to the province real-name system.
    province_realname_enabled: bool = True
    # P1: trainees' names and ID numbers are sealed to this public key of the province (X25519, base64url) and
    # its key id travels with each box. The province publishes a new key id when it rotates.
    province_public_key: str = DEV_PROVINCE_PUBLIC_KEY
    province_key_id: str = DEV_PROVINCE_KEY_ID
    # P1: class hours per training day, for the planned and standard hours of a class record.
    province_class_hours_per_day: int = Field(default=8, ge=1, le=12)
    # P1 timeouts: a version unanswered this long after it was (last) sent is sent again, the same record id
    # and version; after `province_max_attempts` sends it is escalated (pipeline health, the class's view).
    province_answer_timeout_seconds: float = Field(default=6 * 3600, gt=0)
    province_max_attempts: int = Field(default=3, ge=1)
    province_resend_every_seconds: float = Field(default=300, gt=0)
    # Imported into the occupation catalogue at start-up (None: the CSV shipped in the package).
    occupations_csv: str | None = None

    @model_validator(mode="after")
    def _no_movable_clock_in_production(self) -> "TrainingSettings":
        if self.environment == "production" and self.movable_clock:
            raise ValueError("production refuses a movable clock (movable_clock)")
        return self

    def development_values(self) -> dict[str, str]:
        # The dev key verifies tokens signed with the dev seed, which is in the source: anyone could forge them.
        return {"voucher_qr_public_key": DEV_QR_PUBLIC_KEY, "province_public_key": DEV_PROVINCE_PUBLIC_KEY}
