"""Subsidy service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from skillkit.settings import ServiceSettings

from subsidy_service.domain.targets import DEFAULT_TOWNSHIP_WORKFORCE


class SubsidySettings(ServiceSettings):
    service_name: str = "subsidy-service"
    database_url: str = "sqlite+aiosqlite:///./var/subsidy.db"
    # P4: share of a declaration's lines drawn for the bureau's evidence check (at least one line)
    verification_sample_share: Decimal = Decimal("0.05")
    # The county finance's payment account: the payer of every bank payment file (funds are ledgers within it)
    payer_account_number: str = "0512000100000000001"
    payer_account_name: str = "临县财政局社保资金专户"
    payer_bank: str = "中国工商银行临县支行"
    payment_purpose: str = "职业技能培训补贴"
    deadline_sweep_seconds: float = 3600.0
    # Reports (issue 14): T4's workforce per township (JSON object, township -> persons); the public disclosure's
    # per-client limit and cache; how often the business gauges on /metrics are recomputed.
    report_township_workforce: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_TOWNSHIP_WORKFORCE))
    disclosure_rate_limit: int = 120
    disclosure_rate_window_seconds: float = 60.0
    disclosure_cache_seconds: float = 60.0
    report_metrics_seconds: float = 300.0
    report_refresh_seconds: float = 30.0  # how often the reports' read models catch up with the chains
