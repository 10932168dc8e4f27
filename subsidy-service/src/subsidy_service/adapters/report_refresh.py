"""Keeps the reports' read models (`report_vouchers`, `report_holders`) up to date: a periodic job in the service
(`report_refresh_seconds`), incremental after the first run.

Which vouchers changed since the last refresh: chains whose `updated_at` moved (a chain row moves on any change
of its links, e.g. a completion or a certificate), training claims whose `updated_at` moved (declared, paid …),
and the chains of persons whose projection moved (township). The time read is the refresh's start minus a margin
(`MARGIN`), so a transaction that stamped its rows just before the previous refresh started but committed after
it is still seen; rows are rewritten whole (delete + insert), so seeing a voucher twice is harmless. Which persons'
certificates changed: certificate and revocation facts above the highest fact id seen minus a window of ids (ids
are taken before commit, so a late commit can carry a lower id), and persons whose projection moved.

No index is added to the hot tables for this: finding the changed rows is one scan of `chains` and `claims` per
refresh (≈ 0.1–0.5 s at 1,000,000 vouchers), cheaper for the pipeline than an `updated_at` index that every chain
and claim update would have to maintain (and that would make those updates non-HOT).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import utcnow

from subsidy_service.adapters.models import ChainRow, Claim, FactRow, Person
from subsidy_service.adapters.report_models import ReportHolder, ReportVoucher, ReportWatermark
from subsidy_service.adapters.report_queries import TRAINING_PARTS, local_month
from subsidy_service.domain.chain import ELIGIBLE_OR_LATER, ClaimState

chains, claims, facts, persons = ChainRow.__table__, Claim.__table__, FactRow.__table__, Person.__table__
vouchers_t, holders_t = ReportVoucher.__table__, ReportHolder.__table__
NAME = "reports"
MARGIN = timedelta(minutes=2)
FACT_ID_WINDOW = 2_000
CHUNK = 5_000
LOCK_KEY = 0x5245504F  # "REPO": one refresh at a time across replicas (PostgreSQL)


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _voucher_rows(dialect: str) -> Any:
    completed = facts.alias("completed_fact")
    claim = claims.alias("training_claim")
    passed = completed.c.data["passed"].as_boolean()
    return (
        select(chains.c.voucher_id, chains.c.person_key, chains.c.policy_year, chains.c.created_at,
               local_month(chains.c.created_at, dialect), persons.c.township, chains.c.institution_id,
               chains.c.class_id, chains.c.kind, _flag(chains.c.enrolment_id.is_not(None)),
               _flag(completed.c.id.is_not(None)), _flag(and_(completed.c.id.is_not(None), passed.is_(True))),
               _flag(chains.c.certificate_id.is_not(None)), _flag(claim.c.state.in_(ELIGIBLE_OR_LATER)),
               _flag(claim.c.state == ClaimState.PAID))
        .select_from(
            chains.outerjoin(persons, persons.c.person_key == chains.c.person_key)
            .outerjoin(completed, and_(completed.c.kind == "completed", completed.c.key == chains.c.enrolment_id))
            .outerjoin(claim, and_(claim.c.claim_type == "training", claim.c.subject_id == chains.c.voucher_id,
                                   claim.c.part.in_(TRAINING_PARTS))))
    )


VOUCHER_COLUMNS = ["voucher_id", "person_key", "policy_year", "issued_at", "month", "township", "institution_id",
                   "class_id", "kind", "bound", "completed", "evaluated", "certified", "eligible", "paid"]


def _holder_rows() -> Any:
    revoked = facts.alias("revoked")
    return (
        select(facts.c.person_key, func.max(persons.c.township),
               func.max(case((revoked.c.id.is_(None), 1), else_=0)))
        .select_from(
            facts.outerjoin(revoked, and_(revoked.c.kind == "certificate_revoked", revoked.c.key == facts.c.key))
            .outerjoin(persons, persons.c.person_key == facts.c.person_key))
        .where(facts.c.kind == "certificate", facts.c.person_key.is_not(None))
        .group_by(facts.c.person_key)
    )


async def refresh(session: AsyncSession, *, full: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Brings both read models up to date in the caller's transaction (the caller commits). Returns what it did."""
    dialect = session.bind.dialect.name
    if dialect == "postgresql" and not await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({LOCK_KEY})")):
        return {"skipped": True}  # another replica is refreshing
    started = now or utcnow()
    mark = await session.get(ReportWatermark, NAME)
    top_fact = int(await session.scalar(select(func.coalesce(func.max(facts.c.id), 0))) or 0)
    if full or mark is None:
        await session.execute(delete(vouchers_t))
        await session.execute(insert(vouchers_t).from_select(VOUCHER_COLUMNS, _voucher_rows(dialect)))
        await session.execute(delete(holders_t))
        await session.execute(insert(holders_t).from_select(["person_key", "township", "holds"], _holder_rows()))
        done = {"full": True, "vouchers": None, "persons": None}
    else:
        since = mark.refreshed_at - MARGIN
        moved_persons = select(persons.c.person_key).where(persons.c.updated_at >= since)
        changed = union(
            select(chains.c.voucher_id).where(chains.c.updated_at >= since),
            select(claims.c.voucher_id).where(claims.c.updated_at >= since, claims.c.claim_type == "training",
                                              claims.c.voucher_id.is_not(None)),
            select(chains.c.voucher_id).where(chains.c.person_key.in_(moved_persons)),
        )
        voucher_ids = sorted(v for v in (await session.scalars(changed)).all() if v)
        for start in range(0, len(voucher_ids), CHUNK):
            part = voucher_ids[start:start + CHUNK]
            await session.execute(delete(vouchers_t).where(vouchers_t.c.voucher_id.in_(part)))
            await session.execute(insert(vouchers_t).from_select(
                VOUCHER_COLUMNS, _voucher_rows(dialect).where(chains.c.voucher_id.in_(part))))
        person_keys = sorted(p for p in (await session.scalars(union(
            select(facts.c.person_key).where(facts.c.kind.in_(("certificate", "certificate_revoked")),
                                             facts.c.id > mark.fact_id - FACT_ID_WINDOW),
            moved_persons,
        ))).all() if p)
        for start in range(0, len(person_keys), CHUNK):
            part = person_keys[start:start + CHUNK]
            await session.execute(delete(holders_t).where(holders_t.c.person_key.in_(part)))
            await session.execute(insert(holders_t).from_select(
                ["person_key", "township", "holds"], _holder_rows().where(facts.c.person_key.in_(part))))
        done = {"full": False, "vouchers": len(voucher_ids), "persons": len(person_keys)}
    if mark is None:
        session.add(ReportWatermark(name=NAME, refreshed_at=started, fact_id=top_fact))
    else:
        mark.refreshed_at, mark.fact_id = started, top_fact
    await session.flush()
    return done


async def refresh_stamp(session: AsyncSession) -> Any:
    """What identifies the read models' current state: the last refresh's start (None before the first)."""
    return await session.scalar(select(ReportWatermark.refreshed_at).where(ReportWatermark.name == NAME))
