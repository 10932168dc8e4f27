"""Subsidy service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from skillkit.settings import ServiceSettings


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
