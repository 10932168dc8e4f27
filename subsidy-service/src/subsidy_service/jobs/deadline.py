"""P5: claims of year Y not paid by 31 March Y+1 23:59:59 Beijing time expire; 30 and 7 days before, each declarant
with unpaid claims of the year is warned once (`subsidy.deadline_warning.v1`, and the deadline report)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.contracts.subsidy import ClaimExpired, DeadlineWarning
from skillkit.db import transaction, utcnow

from subsidy_service.adapters import settlement_rows as rows
from subsidy_service.adapters.models import Claim
from subsidy_service.adapters.outbox import outbox
from subsidy_service.adapters.settlement_models import DeadlineNotice
from subsidy_service.domain.chain import ClaimState
from subsidy_service.domain.settlement import EXPIRING, deadline, declarant_of, expired_years, warnings_due

log = logging.getLogger("subsidy_service.deadline")
claims_t = Claim.__table__
P5_REASON = ("p5_expired", "逾期未兑现（P5：次年3月31日前）", "not paid by 31 March of the following year (P5)")


async def run_deadline(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """Expires and warns as of `now`; returns what it did. Idempotent: a second run at the same moment does nothing."""
    years = list(await session.scalars(select(claims_t.c.policy_year).distinct().where(
        claims_t.c.state.in_(EXPIRING))))
    expired = []
    for year in expired_years(now, years):
        found = (await session.execute(select(
            claims_t.c.id, claims_t.c.claim_type, claims_t.c.voucher_id, claims_t.c.person_key, claims_t.c.amount)
            .where(claims_t.c.policy_year == year, claims_t.c.state.in_(EXPIRING)).order_by(claims_t.c.id))).all()
        await rows.lock_claims(session, [c.id for c in found])
        code, zh, en = P5_REASON
        await rows.set_claim_states(session, [c.id for c in found], EXPIRING, {
            "state": ClaimState.EXPIRED, "reason_code": code, "reason_zh": zh, "reason_en": en, "updated_at": now})
        expired += found
        if found:
            await outbox.add_many(session, [(
                ClaimExpired(claim_id=str(c.id), claim_type=c.claim_type, voucher_id=c.voucher_id,
                             person_key=c.person_key, amount=c.amount, policy_year=year, expired_at=now),
                c.person_key, str(c.id)) for c in found])
    warned = 0
    for year, days in warnings_due(now, years):
        at_risk = (await session.execute(
            select(claims_t.c.payee_type, claims_t.c.payee_id, func.count(), func.sum(claims_t.c.amount))
            .where(claims_t.c.policy_year == year, claims_t.c.state.in_(EXPIRING))
            .group_by(claims_t.c.payee_type, claims_t.c.payee_id))).all()
        per_declarant: dict[tuple[str, str], list[Any]] = {}
        for payee_type, payee_id, count, amount in at_risk:
            slot = per_declarant.setdefault(declarant_of(payee_type, payee_id), [0, Decimal(0)])
            slot[0] += count
            slot[1] += Decimal(amount or 0)
        for (declarant_type, declarant_id), (count, amount) in sorted(per_declarant.items()):
            key = (year, days, declarant_type, declarant_id)
            if await session.get(DeadlineNotice, key) is not None:
                continue
            session.add(DeadlineNotice(policy_year=year, days_before=days, declarant_type=declarant_type,
                                       declarant_id=declarant_id, claim_count=count, amount=amount, sent_at=now))
            await outbox.add(session, DeadlineWarning(
                policy_year=year, days_before=days, declarant_type=declarant_type, declarant_id=declarant_id,
                claim_count=count, amount=amount, deadline=deadline(year),
            ), partition_key=declarant_id, subject=f"{year}:{days}:{declarant_type}:{declarant_id}")
            warned += 1
    await session.flush()
    return {"expired": len(expired), "warnings": warned}


async def deadline_job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The periodic job (hourly): the deadline passes at a second, the sweep follows within the hour."""
    async with transaction(sessionmaker) as session:
        done = await run_deadline(session, utcnow())
    if done["expired"] or done["warnings"]:
        log.info("P5 deadline sweep", extra=done)
