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
    # The lifecycle consumer's broker fetch waits up to 200 ms for records (the kit's default is 50). On Kafka a fetch
    # returns as soon as a record arrives, so this only spaces out the empty fetches of a quiet consumer; on Tansu
    # (development, the benchmarks) a record waits up to about half of it (measured one hop: p50 52 ms, p99 104 ms
    # against 3 / 33 ms at 50), and records arriving meanwhile are taken in one poll and one transaction. Measured,
    # the service's consumer CPU under a pipeline-like stream (80 chains/s) is 0.99 → 0.74 ms per chain, idle
    # 3.3 → 2.2 % of a core (docs/voucher-service.md). The bindings it answers are not on a path anyone waits
    # for within 100 ms (an institution's enrolment file is bound as a whole, the app polls the enrolment).
    kafka_fetch_max_wait_ms: int = 200

    def extra_secret_fields(self) -> tuple[str, ...]:
        return ("qr_signing_seed",)
