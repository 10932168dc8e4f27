"""Fund accounts (P6): finance enters allocations; every movement of money is a ledger entry beside the fund's
counters, and the counters change only under the fund's row lock (the database refuses an overdraft anyway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit import audit
from skillkit.auth import Principal
from skillkit.problems import Problem

from subsidy_service.adapters.settlement_models import Fund, FundEntry
from subsidy_service.domain.settlement import FUND_KINDS, money

entries_t = FundEntry.__table__


async def funds_locked(session: AsyncSession, years: Iterable[int]) -> dict[tuple[int, str], Fund]:
    """The funds of these years, row-locked in id order (PostgreSQL): two batches reserve one after the other."""
    return {(f.year, f.code): f for f in await _locked(session, Fund.year.in_(sorted(set(years))))}


async def funds_locked_by_id(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Fund]:
    """The same lock for movements that know their funds (settlement, recoveries): every fund a transaction will
    move, locked at once — a second lock taken later could meet another transaction's in the other order."""
    return {f.id: f for f in await _locked(session, Fund.id.in_(sorted(set(ids))))}


async def _locked(session: AsyncSession, where: Any) -> list[Fund]:
    # populate_existing: a fund this session read before the lock is read again under it (else its stale counters
    # would be written back over another transaction's).
    stmt = select(Fund).where(where).order_by(Fund.id).execution_options(populate_existing=True)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(await session.scalars(stmt))


async def allocate(session: AsyncSession, principal: Principal, year: int, code: str, amount: Decimal,
                   reference: str, note: str | None, now: datetime) -> Fund:
    if code not in FUND_KINDS:
        raise Problem(422, "fund_unknown", f"fund code must be one of {', '.join(FUND_KINDS)}")
    if amount <= 0:
        raise Problem(422, "allocation_not_positive", "an allocation is a positive amount")
    fund = (await funds_locked(session, [year])).get((year, code))
    if fund is None:
        fund = Fund(id=uuid.uuid4(), year=year, code=code, allocated=Decimal("0.00"), reserved=Decimal("0.00"),
                    paid=Decimal("0.00"), updated_at=now)
        session.add(fund)
    before = {"allocated": str(fund.allocated)}
    fund.allocated = money(fund.allocated + amount)
    fund.updated_at = now
    await session.flush()
    await session.execute(insert(entries_t), [dict(
        fund_id=fund.id, entry_type="allocation", amount=money(amount), batch_id=None, recovery_id=None,
        reference=reference, note=note, created_by=principal.subject, created_at=now)])
    await audit.record(session, principal, "fund.allocate", "fund", str(fund.id), before=before,
                       after={"allocated": str(fund.allocated), "reference": reference})
    return fund


def ledger_rows(moves: dict[uuid.UUID, Decimal], entry_type: str, *, batch_id: uuid.UUID | None,
                recovery_id: uuid.UUID | None = None, reference: str | None, created_by: str, now: datetime
                ) -> list[dict]:
    return [dict(fund_id=fund_id, entry_type=entry_type, amount=money(amount), batch_id=batch_id,
                 recovery_id=recovery_id, reference=reference, note=None, created_by=created_by, created_at=now)
            for fund_id, amount in sorted(moves.items()) if amount]


async def move(session: AsyncSession, funds: dict[uuid.UUID, Fund], moves: dict[uuid.UUID, Decimal], entry_type: str,
               *, batch_id: uuid.UUID | None, recovery_id: uuid.UUID | None = None, reference: str | None,
               created_by: str, now: datetime) -> None:
    """Applies one kind of movement to locked funds and appends its ledger entries.
    reserve: available -> reserved; release: reserved -> available; pay: reserved -> paid;
    reverse (退票) and recover (追回): paid -> available; unrecover: back."""
    for fund_id, amount in moves.items():
        fund = funds[fund_id]
        if entry_type == "reserve":
            fund.reserved += amount
        elif entry_type == "release":
            fund.reserved -= amount
        elif entry_type == "pay":
            fund.reserved -= amount
            fund.paid += amount
        elif entry_type in ("reverse", "recover"):
            fund.paid -= amount
        elif entry_type == "unrecover":  # an offset's transfer was returned: the recovered money was never netted
            fund.paid += amount
        else:
            raise ValueError(entry_type)
        fund.reserved, fund.paid, fund.updated_at = money(fund.reserved), money(fund.paid), now
    await session.flush()
    rows = ledger_rows(moves, entry_type, batch_id=batch_id, recovery_id=recovery_id, reference=reference,
                       created_by=created_by, now=now)
    if rows:
        await session.execute(insert(entries_t), rows)
