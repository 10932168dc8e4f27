"""Certification service settings (environment prefix SKILLS_)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from skillkit.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    service_name: str = "certification-service"
    database_url: str = "sqlite+aiosqlite:///./var/certification.db"
    # Occupation codes added to the built-in catalogue (domain/occupations.py), code -> Chinese name,
    # e.g. SKILLS_EXTRA_OCCUPATIONS='{"4-01-02-03": "..."}'.
    extra_occupations: dict[str, str] = {}
    # A score at or above the pass mark passes (both theory and practical, where given).
    pass_mark: Decimal = Decimal("60")
    # Public certificate check: at most this many requests per client address in each window (counted in the
    # database, shared by every replica: skillkit/ratelimit.py).
    verify_rate_limit: int = 20
    verify_rate_window_seconds: float = 60.0
    # T4: county certificate-holding rate of the workforce, target 32 %.
    holding_rate_target: Decimal = Decimal("0.32")
    # P3 培训一人，评价一人: a trainee completed this many days ago and not yet a candidate of an evaluation of the
    # class's occupation is reported (GET /v1/reports/unevaluated; configurable, the plan sets no number).
    unevaluated_after_days: int = Field(default=30, ge=0, le=366)
    # The consumer only keeps the workers projection (candidate matching, E7, T4), read when an evaluation registers
    # its candidates, days after the worker was registered; an unknown person is recorded and cleared when the
    # registration arrives. So its broker fetch waits up to 500 ms (aiokafka's default; the kit's is 50). On Kafka a
    # fetch returns as soon as a record arrives, so this only spaces out the empty fetches; on Tansu a record waits up
    # to about half of it (measured one hop: p50 130 ms, p99 249 ms), and records arriving meanwhile are taken in one
    # poll and one transaction. Measured, the service's consumer CPU under a pipeline-like stream (80 chains/s) is
    # 1.01 → 0.79 ms per chain, idle 2.9 → 1.5 % of a core (docs/certification-service.md).
    kafka_fetch_max_wait_ms: int = 500
