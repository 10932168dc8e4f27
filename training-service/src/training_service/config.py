"""Training service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from skillkit.settings import ServiceSettings
from skillkit.voucher_token import DEV_QR_PUBLIC_KEY


class TrainingSettings(ServiceSettings):
    service_name: str = "training-service"
    database_url: str = "sqlite+aiosqlite:///./var/training.db"
    # Public key of the voucher service's QR signing key: QR tokens are verified offline.
    voucher_qr_public_key: str = DEV_QR_PUBLIC_KEY
    # A trainee who attended less than this share of the planned days cannot be completed as passed.
    completion_min_attendance_share: Decimal = Field(default=Decimal("0.80"), ge=0, le=1)
    # Follow-up window after completion (employment, business licence: S2, S6).
    follow_up_months: int = 6
    # P1: send trainees, classes, attendance and completions to the province real-name system.
    province_realname_enabled: bool = True
    # Imported into the occupation catalogue at start-up (None: the CSV shipped in the package).
    occupations_csv: str | None = None

    def development_values(self) -> dict[str, str]:
        # The dev key verifies tokens signed with the dev seed, which is in the source: anyone could forge them.
        return {"voucher_qr_public_key": DEV_QR_PUBLIC_KEY}
