"""The queries behind the report endpoints, the dashboard and the disclosure page (issue 14).

The funnel and the targets read the read models `report_vouchers` (one narrow row per voucher: its township,
institution, class, kind, month and funnel stages as 0/1) and `report_holders` (T4), which the refresh job keeps
from chains, claims, facts and the worker projection (`adapters/report_refresh.py`): aggregating those is several
times cheaper than joining the four tables per request (BENCHMARKS.md, 1,000,000 vouchers), at the price of a lag of
one refresh interval. Money, funds and the disclosure read `claims`, `funds` and `fund_entries` directly (always
current). Each report is one aggregate statement (GROUP BY in the database).

Funnel stages of a voucher (each one a subset of the one before, except where the data says otherwise):
issued (a chain row: the voucher's issue was received), bound (the chain's live enrolment), completed (a
`training.completed` fact for that enrolment), evaluated (that completion passed the institution's assessment —
the subsidy service receives no evaluation results, so this is the nearest fact it holds), certified (the chain's
matching certificate), eligible (its training claim eligible or further: declared, verified, approved, paid),
paid (that claim paid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.county import COUNTY_TZ

from subsidy_service.adapters.models import ChainRow, Claim, FactRow, Person
from subsidy_service.adapters.report_models import ReportHolder, ReportVoucher
from subsidy_service.adapters.settlement_models import Fund, FundEntry, Payee
from subsidy_service.domain.chain import ClaimState

chains = ChainRow.__table__
claims = Claim.__table__
facts = FactRow.__table__
persons = Person.__table__
funds = Fund.__table__
fund_entries = FundEntry.__table__
payees = Payee.__table__
rv = ReportVoucher.__table__  # the read model (adapters/report_refresh.py)
holders = ReportHolder.__table__

# the claim that pays the training of a voucher: `main`, or the first S6 part (the second follows the licence rate)
TRAINING_PARTS = ("main", "S6-80")
UNKNOWN = "未知"
STAGES = ("issued", "bound", "completed", "evaluated", "certified", "eligible", "paid")
DIMENSIONS = ("township", "institution", "kind", "month", "class")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Filters:
    year: int | None = None  # the voucher's (claim's) policy year
    quarter: int | None = None  # 1–4 of `year`: issue time (funnel) or payment time (money), county time
    township: str | None = None
    institution_id: str | None = None
    class_id: str | None = None


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """The quarter of the county's calendar as a half-open UTC interval."""
    start = datetime.combine(date(year, 3 * quarter - 2, 1), time.min, COUNTY_TZ)
    end = datetime.combine(date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1), time.min,
                           COUNTY_TZ)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def local_month(column: Any, dialect: str) -> Any:
    """'YYYY-MM' of a UTC timestamp in the county's time zone (UTC+8 all year)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name


# ---- the funnel (read model) ----------------------------------------------------------------------------------

def _voucher_filters(f: Filters) -> list[Any]:
    where: list[Any] = []
    if f.year is not None:
        where.append(rv.c.policy_year == f.year)
    if f.year is not None and f.quarter is not None:
        start, end = quarter_bounds(f.year, f.quarter)
        where += [rv.c.issued_at >= start, rv.c.issued_at < end]
    if f.township is not None:
        where.append(rv.c.township == f.township)
    if f.institution_id is not None:
        where.append(rv.c.institution_id == f.institution_id)
    if f.class_id is not None:
        where.append(rv.c.class_id == f.class_id)
    return where


GROUPS = {"township": rv.c.township, "institution": rv.c.institution_id, "kind": rv.c.kind, "month": rv.c.month,
          "class": rv.c.class_id}


async def funnel(session: AsyncSession, f: Filters, by: str | None) -> list[dict[str, Any]]:
    """issued → bound → completed → evaluated → certified → eligible → paid, per group of `by` (or one total)."""
    column = GROUPS.get(by or "")
    keys = [column] if column is not None else []
    statement = (
        select(*keys, func.count().label("issued"),
               *(func.sum(rv.c[stage]).label(stage) for stage in STAGES[1:]))
        .where(*_voucher_filters(f)).group_by(*keys)
    )
    rows = (await session.execute(statement)).all()
    out = [{"key": (row[0] if keys else "all") or UNKNOWN,
            **{stage: int(getattr(row, stage) or 0) for stage in STAGES}} for row in rows]
    if keys and any(row[0] is None for row in rows):  # a None group and a literal "未知" one would be two rows
        merged: dict[str, dict[str, Any]] = {}
        for g in out:
            into = merged.setdefault(g["key"], {"key": g["key"], **{s: 0 for s in STAGES}})
            for stage in STAGES:
                into[stage] += g[stage]
        out = list(merged.values())
    if not keys and not out:
        out = [{"key": "all", **{stage: 0 for stage in STAGES}}]
    return sorted(out, key=lambda g: g["key"])


# ---- money -----------------------------------------------------------------------------------------------------

def _claim_filters(f: Filters) -> list[Any]:
    where: list[Any] = []
    if f.year is not None:
        where.append(claims.c.policy_year == f.year)
    if f.year is not None and f.quarter is not None:  # the quarter a claim was paid in
        start, end = quarter_bounds(f.year, f.quarter)
        where += [claims.c.paid_at >= start, claims.c.paid_at < end]
    if f.institution_id is not None:
        where.append(claims.c.institution_id == f.institution_id)
    if f.township is not None:
        where.append(claims.c.person_key.in_(select(persons.c.person_key).where(persons.c.township == f.township)))
    return where


async def money(session: AsyncSession, f: Filters, by: str) -> list[dict[str, Any]]:
    """Claims' count and amount by their leading rule (`rule`), by payee (`payee`) or by state (`state`), each split
    by state so that what is paid, approved or still eligible reads off one row."""
    if by == "rule":
        # grouped by the JSON text (no JSON parsing per row), the leading rule read per group below
        keys: list[Any] = [cast(claims.c.rule_ids, Text).label("rule_ids")]
    elif by == "payee":
        keys = [claims.c.payee_type, claims.c.payee_id]
    else:
        keys = []
    statement = (
        select(*keys, claims.c.state, func.count().label("count"), func.sum(claims.c.amount).label("amount"))
        .where(*_claim_filters(f))
        .group_by(*keys, claims.c.state)
    )
    rows = (await session.execute(statement)).all()
    names = await payee_names(session) if by == "payee" else {}
    groups: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        if by == "rule":
            rules = json.loads(row.rule_ids) if row.rule_ids else []
            key: tuple = (rules[0] if rules else UNKNOWN,)
            base = {"rule_id": key[0]}
        elif by == "payee":
            key = (row.payee_type, row.payee_id or "")
            base = {"payee_type": key[0], "payee_id": key[1], "payee_name": names.get(key)}
        else:
            key = ("all",)
            base = {}
        group = groups.setdefault(key, {**base, "count": 0, "amount": ZERO, "by_state": {}})
        amount = Decimal(row.amount or 0).quantize(Decimal("0.01"))
        group["count"] += int(row.count)
        group["amount"] += amount
        state = group["by_state"].setdefault(row.state, {"count": 0, "amount": ZERO})
        state["count"] += int(row.count)
        state["amount"] += amount
    return [groups[k] for k in sorted(groups)]


async def payee_names(session: AsyncSession) -> dict[tuple[str, str], str | None]:
    rows = await session.execute(select(payees.c.payee_type, payees.c.payee_id, payees.c.name))
    return {(t, i): n for t, i, n in rows.all()}


# ---- funds (P6) ------------------------------------------------------------------------------------------------

async def fund_balances(session: AsyncSession, year: int | None) -> list[dict[str, Any]]:
    statement = select(funds).order_by(funds.c.year, funds.c.code)
    if year is not None:
        statement = statement.where(funds.c.year == year)
    rows = (await session.execute(statement)).mappings().all()
    return [dict(year=r["year"], code=r["code"], allocated=r["allocated"], reserved=r["reserved"], paid=r["paid"],
                 available=r["allocated"] - r["reserved"] - r["paid"]) for r in rows]


# net money out of a fund per ledger entry type: paid adds, a returned transfer (退票) or a recovery (追回) gives back
NET_PAID = {"pay": 1, "unrecover": 1, "reverse": -1, "recover": -1}


async def funds_used(session: AsyncSession, year: int, quarter: int | None) -> list[dict[str, Any]]:
    """Net amount paid out of each fund of `year`, by ledger time (the quarter when given)."""
    signed = case(*((fund_entries.c.entry_type == t, fund_entries.c.amount * s) for t, s in NET_PAID.items()),
                  else_=0)
    statement = (
        select(funds.c.code, func.sum(signed).label("amount"))
        .select_from(fund_entries.join(funds, funds.c.id == fund_entries.c.fund_id))
        .where(funds.c.year == year, fund_entries.c.entry_type.in_(tuple(NET_PAID)))
        .group_by(funds.c.code).order_by(funds.c.code)
    )
    if quarter is not None:
        start, end = quarter_bounds(year, quarter)
        statement = statement.where(fund_entries.c.created_at >= start, fund_entries.c.created_at < end)
    return [{"code": code, "amount": Decimal(amount or 0).quantize(Decimal("0.01"))}
            for code, amount in (await session.execute(statement)).all()]


# ---- targets (T1–T5) -------------------------------------------------------------------------------------------

async def class_counts(session: AsyncSession, f: Filters) -> list[dict[str, Any]]:
    """T1, T2, T3 and T5 from one scan of the read model: per class (with its institution and kind), the vouchers,
    the completed, the certified and the completed-and-certified ones."""
    # A voucher without a class is not bound: never completed, outside T5. A class has one institution and kind.
    statement = (
        select(rv.c.class_id, func.max(rv.c.institution_id).label("institution_id"), func.max(rv.c.kind).label("kind"),
               func.count().label("trainees"), func.sum(rv.c.completed).label("completed"),
               func.sum(rv.c.certified).label("certified"),
               func.sum(rv.c.completed * rv.c.certified).label("completed_certified"))
        .where(rv.c.class_id.is_not(None), *_voucher_filters(f))
        .group_by(rv.c.class_id)
    )
    return [dict(class_id=r.class_id, institution_id=r.institution_id, kind=r.kind, trainees=int(r.trainees),
                 completed=int(r.completed or 0), certified=int(r.certified or 0),
                 completed_certified=int(r.completed_certified or 0))
            for r in (await session.execute(statement)).all()]


async def class_outcomes(session: AsyncSession, class_ids: list[str]) -> tuple[int, int]:
    """T3: Σ employed and Σ trainees completed over the outcome reports of the given classes."""
    employed = completed = 0
    for start in range(0, len(class_ids), 1000):
        part = class_ids[start:start + 1000]
        row = (await session.execute(select(
            func.sum(facts.c.data["employed"].as_integer()), func.sum(facts.c.data["trainees_completed"].as_integer())
        ).where(facts.c.kind == "class_outcome", facts.c.key.in_(part)))).one()
        employed += int(row[0] or 0)
        completed += int(row[1] or 0)
    return employed, completed


async def holders_by_township(session: AsyncSession) -> dict[str, int]:
    """T4: persons holding at least one certificate that was not revoked, per township of the worker projection.
    Certificates are the certification service's, whatever voucher led to them (a holding rate, not a chain)."""
    statement = (select(holders.c.township, func.count()).where(holders.c.holds == 1)
                 .group_by(holders.c.township))
    out: dict[str, int] = {}
    for township, n in (await session.execute(statement)).all():
        out[township or UNKNOWN] = out.get(township or UNKNOWN, 0) + int(n)
    return out


async def years_and_townships(session: AsyncSession) -> tuple[list[int], list[str]]:
    rows = (await session.execute(select(rv.c.policy_year, rv.c.township).distinct())).all()
    years = sorted({y for y, _ in rows if y is not None}, reverse=True)
    return years, sorted({t for _, t in rows if t})


async def class_details(session: AsyncSession, class_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The filing of each class (occupation, dates) for the drill-down's labels."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(class_ids), 1000):
        part = class_ids[start:start + 1000]
        rows = await session.execute(select(facts.c.key, facts.c.data).where(facts.c.kind == "class",
                                                                             facts.c.key.in_(part)))
        for key, data in rows.all():
            found[key] = {k: (data or {}).get(k) for k in ("occupation_code", "level", "start_date", "end_date")}
    return found


# ---- disclosure (P7) -------------------------------------------------------------------------------------------

def _paid_in(year: int, quarter: int | None) -> list[Any]:
    where = [claims.c.state == ClaimState.PAID, claims.c.policy_year == year]
    if quarter is not None:
        start, end = quarter_bounds(year, quarter)
        where += [claims.c.paid_at >= start, claims.c.paid_at < end]
    return where


async def paid_by_payee(session: AsyncSession, year: int, quarter: int | None) -> list[dict[str, Any]]:
    """P7: per payee, the persons paid for and the amount paid, of the year's claims (in the quarter when given)."""
    statement = (
        select(claims.c.payee_type, claims.c.payee_id, func.count(func.distinct(claims.c.person_key)).label("persons"),
               func.count().label("claims"), func.sum(claims.c.amount).label("amount"))
        .where(*_paid_in(year, quarter))
        .group_by(claims.c.payee_type, claims.c.payee_id)
        .order_by(claims.c.payee_type, claims.c.payee_id)
    )
    return [dict(payee_type=r.payee_type, payee_id=r.payee_id or "", persons=int(r.persons), claims=int(r.claims),
                 amount=Decimal(r.amount or 0).quantize(Decimal("0.01")))
            for r in (await session.execute(statement)).all()]


async def paid_persons(session: AsyncSession, year: int, quarter: int | None, payee_type: str, payee_id: str,
                       limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """P7: the paid claims of one payee, each with the worker's masked name and the voucher — nothing else personal."""
    where = [*_paid_in(year, quarter), claims.c.payee_type == payee_type]
    if payee_type != "worker":  # workers' allowances are listed together: a worker is not named as a payee
        where.append(claims.c.payee_id == payee_id)
    total = int(await session.scalar(select(func.count()).select_from(claims).where(*where)) or 0)
    statement = (
        select(persons.c.masked_name, claims.c.voucher_id, claims.c.claim_type, claims.c.kind, claims.c.amount)
        .select_from(claims.outerjoin(persons, persons.c.person_key == claims.c.person_key))
        .where(*where).order_by(claims.c.paid_at, claims.c.id).limit(limit).offset(offset)
    )
    rows = (await session.execute(statement)).all()
    return total, [dict(masked_name=r.masked_name, voucher_id=r.voucher_id, claim_type=r.claim_type, kind=r.kind,
                        amount=r.amount) for r in rows]


# ---- pipeline health -------------------------------------------------------------------------------------------

async def outbox_backlog(session: AsyncSession, outbox: Any) -> tuple[int, datetime | None]:
    statement = select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
    count, oldest = (await session.execute(statement)).one()
    if isinstance(oldest, str):  # SQLite's MIN over the column's text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)
    return int(count or 0), oldest


async def newest_processed(session: AsyncSession, inbox: Any) -> list[tuple[str, str, datetime]]:
    """(consumer, event type, newest processing time) from the kit's inbox."""
    statement = (select(inbox.c.consumer, inbox.c.event_type, func.max(inbox.c.processed_at))
                 .group_by(inbox.c.consumer, inbox.c.event_type))
    out = []
    for consumer, event_type, newest in (await session.execute(statement)).all():
        if isinstance(newest, str):
            newest = datetime.fromisoformat(newest)
        if newest is not None and newest.tzinfo is None:
            newest = newest.replace(tzinfo=timezone.utc)
        out.append((consumer, event_type, newest))
    return out
