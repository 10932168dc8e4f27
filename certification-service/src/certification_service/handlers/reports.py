"""T4: the county certificate-holding rate of the workforce (全县从业人员持证率达32%), per township."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.audit import record
from skillkit.auth import Principal
from skillkit.db import utcnow

from certification_service.adapters.models import Certificate, KnownWorker, TownshipWorkforce

RATE_PLACES = Decimal("0.0001")


class TownshipHolding(BaseModel):
    township: str
    holders: int
    workforce_size: int | None
    holding_rate: Decimal | None  # fraction, 4 decimals ("0.3250")
    meets_target: bool | None


class HoldingRateOut(BaseModel):
    """T4: certificate holders (distinct persons with a valid certificate) against the workforce."""

    target: Decimal
    townships: list[TownshipHolding]
    holders_without_township: int
    county_holders: int
    county_workforce: int
    county_holding_rate: Decimal | None
    county_meets_target: bool | None


async def set_workforce(session: AsyncSession, principal: Principal, township: str, size: int) -> TownshipWorkforce:
    row = await session.get(TownshipWorkforce, township)
    if row is None:
        row = TownshipWorkforce(township=township)
        session.add(row)
    before = dict(workforce_size=row.workforce_size)
    row.workforce_size = size
    row.updated_by = principal.subject
    row.updated_at = utcnow()
    await session.flush()
    await record(session, principal, "workforce.set", "township_workforce", township, before=before,  # T4, P10
                 after=dict(workforce_size=size))
    return row


def _rate(holders: int, workforce: int | None) -> Decimal | None:
    """The rate for display, rounded to 4 places."""
    if not workforce:
        return None
    return (Decimal(holders) / Decimal(workforce)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _meets(holders: int, workforce: int | None, target: Decimal) -> bool | None:
    # On the exact fraction, not the displayed rate: 3000 / 9376 = 0.31997 shows as 0.3200 yet is below 32 %.
    if not workforce:
        return None
    return Fraction(holders, workforce) >= Fraction(target)


async def holding_rate(session: AsyncSession, target: Decimal) -> HoldingRateOut:
    """Holders are distinct persons with at least one valid certificate; their township comes from the
    workers projection. Holders the voucher service does not know count for the county only."""
    holders = (
        select(Certificate.person_key).where(Certificate.status == "valid").distinct().subquery()
    )
    per_township = (
        await session.execute(
            select(KnownWorker.township, func.count())
            .select_from(holders)
            .outerjoin(KnownWorker, KnownWorker.person_key == holders.c.person_key)
            .group_by(KnownWorker.township)
        )
    ).all()
    counts = {township: int(n) for township, n in per_township}
    without_township = counts.pop(None, 0)
    workforce = {row.township: row.workforce_size for row in await session.scalars(select(TownshipWorkforce))}
    townships = []
    for township in sorted(set(counts) | set(workforce)):
        rate = _rate(counts.get(township, 0), workforce.get(township))
        townships.append(
            TownshipHolding(
                township=township,
                holders=counts.get(township, 0),
                workforce_size=workforce.get(township),
                holding_rate=rate,
                meets_target=_meets(counts.get(township, 0), workforce.get(township), target),
            )
        )
    county_holders = sum(counts.values()) + without_township
    county_workforce = sum(workforce.values())
    county_rate = _rate(county_holders, county_workforce)
    return HoldingRateOut(
        target=target,
        townships=townships,
        holders_without_township=without_township,
        county_holders=county_holders,
        county_workforce=county_workforce,
        county_holding_rate=county_rate,
        county_meets_target=_meets(county_holders, county_workforce, target),
    )
