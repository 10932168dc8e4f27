"""P1: the re-send of unanswered province records (periodic, on the leader), and the dashboard's gauge of the
versions unanswered by state as of its last run."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction, utcnow

from training_service.config import TrainingSettings
from training_service.handlers import realname

UNANSWERED = Gauge("province_realname_unanswered", "Province record versions without an answer, by state",
                   ["record_type", "state"])


async def resend_overdue(sessionmaker: async_sessionmaker[AsyncSession], settings: TrainingSettings,
                         now: datetime | None = None, limit: int = 500) -> tuple[int, int]:
    """Re-sends or escalates the overdue versions (handlers/realname.resend_overdue); returns (re-sent, escalated)."""
    now = now or utcnow()
    async with transaction(sessionmaker) as session:
        resent, escalated = await realname.resend_overdue(session, settings, now, limit)
    async with sessionmaker() as session:
        health = await realname.pipeline_health(session, settings, now)
    for record_type in ("class", "trainee", "attendance", "completion", "certificate"):
        counts = health["by_record_type"].get(record_type, {"unanswered": 0, "overdue": 0, "escalated": 0})
        UNANSWERED.labels(record_type, "escalated").set(counts["escalated"])
        UNANSWERED.labels(record_type, "overdue").set(counts["overdue"])
        UNANSWERED.labels(record_type, "waiting").set(counts["unanswered"] - counts["overdue"] - counts["escalated"])
    return resent, escalated
