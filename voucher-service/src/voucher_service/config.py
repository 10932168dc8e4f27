"""Voucher service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from skillkit.settings import ServiceSettings
from skillkit.voucher_token import DEV_QR_SIGNING_SEED

class VoucherSettings(ServiceSettings):
    service_name: str = "voucher-service"
    database_url: str = "sqlite+aiosqlite:///./var/voucher.db"
    # Seed of the Ed25519 key that signs voucher QR tokens; institutions verify with the public key offline.
    qr_signing_seed: str = DEV_QR_SIGNING_SEED
    # Validity of a self-claimed voucher when no issuing batch says otherwise (configurable per batch).
    default_validity_days: int = 180
    expiry_sweep_seconds: float = 60.0

    def extra_secret_fields(self) -> tuple[str, ...]:
        return ("qr_signing_seed",)
