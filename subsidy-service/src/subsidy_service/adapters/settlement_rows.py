"""Settlement's queries and bulk writes: the claims a declaration gathers (locked, in id order, like a
re-evaluation locks them: `claim_rows.claims_of`), the evidence and flag inputs around them, and the set-based
state changes of claims. Everything here scales to a quarter of 100,000 claims: one statement per step, no ORM
object per row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from subsidy_service.adapters.models import ChainRow, Claim, FactRow
from subsidy_service.adapters.settlement_models import DeclarationLine
from subsidy_service.domain.chain import ELIGIBLE_OR_LATER, ClaimState
from subsidy_service.domain.settlement import WORKER_DECLARANT

claims_t = Claim.__table__
chains_t = ChainRow.__table__
facts_t = FactRow.__table__
lines_t = DeclarationLine.__table__

CHUNK = 5000  # ids per statement where a list parameter is expanded (SQLite has a bound-parameter limit)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def of_declarant(declarant_type: str, declarant_id: str) -> list[Any]:
    if (declarant_type, declarant_id) == WORKER_DECLARANT:
        return [claims_t.c.payee_type == "worker"]
    return [claims_t.c.payee_type == declarant_type, claims_t.c.payee_id == declarant_id]


async def declarable(session: AsyncSession, declarant: tuple[str, str], before: datetime) -> list[Any]:
    """The declarant's eligible claims that became eligible before `before`, with their chain, locked."""
    stmt = (
        select(claims_t, chains_t.c.class_id, chains_t.c.enrolment_id, chains_t.c.links.label("chain_links"))
        .select_from(claims_t.outerjoin(chains_t, chains_t.c.voucher_id == claims_t.c.voucher_id))
        .where(claims_t.c.state == ClaimState.ELIGIBLE, claims_t.c.eligible_at < before, *of_declarant(*declarant))
        .order_by(claims_t.c.id)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=claims_t)
    return list((await session.execute(stmt)).all())


async def unfinished_order_classes(session: AsyncSession, declarant: tuple[str, str]) -> set[str]:
    """S2 一单一结算: order classes with a claim of the declarant still waiting or held (declared together later)."""
    stmt = (
        select(chains_t.c.class_id).distinct()
        .select_from(claims_t.join(chains_t, chains_t.c.voucher_id == claims_t.c.voucher_id))
        .where(claims_t.c.kind == "order", claims_t.c.claim_type == "training",
               claims_t.c.state.in_((ClaimState.WAITING, ClaimState.HELD)), *of_declarant(*declarant))
    )
    return {row for row in (await session.scalars(stmt)) if row}


async def fact_data(session: AsyncSession, kind: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted({k for k in keys if k})
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(wanted):
        rows = await session.execute(select(facts_t.c.key, facts_t.c.data).where(facts_t.c.kind == kind,
                                                                                 facts_t.c.key.in_(part)))
        found.update({key: data for key, data in rows.all()})
    return found


async def class_certificate_counts(session: AsyncSession, class_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """T5: per class, (trainees with a chain, of whom certified)."""
    wanted = sorted({c for c in class_ids if c})
    counts: dict[str, tuple[int, int]] = {}
    for part in chunks(wanted):
        rows = await session.execute(
            select(chains_t.c.class_id, func.count(), func.count(chains_t.c.certificate_id))
            .where(chains_t.c.class_id.in_(part)).group_by(chains_t.c.class_id)
        )
        counts.update({class_id: (int(n), int(certified)) for class_id, n, certified in rows.all()})
    return counts


async def suspended_institutions(session: AsyncSession, institution_ids: Iterable[str]) -> set[str]:
    """I3: training institutions with a suspension fact, evaluation institutions suspended or revoked (the chain's
    own test, `domain/chain/`)."""
    wanted = sorted({i for i in institution_ids if i})
    if not wanted:
        return set()
    found: set[str] = set()
    for part in chunks(wanted):
        rows = await session.execute(
            select(facts_t.c.kind, facts_t.c.key, facts_t.c.data)
            .where(facts_t.c.kind.in_(("suspended", "evaluation_institution")), facts_t.c.key.in_(part))
        )
        for kind, key, data in rows.all():
            if kind == "suspended" or (data or {}).get("status") in ("suspended", "revoked"):
                found.add(key)
    return found


async def other_live_claims(session: AsyncSession, claims: Sequence[Any]) -> set[uuid.UUID]:
    """The claims among these whose person holds another live claim of the same type, part, kind and year (or,
    for evaluation claims, the same level slot) — paid twice for one rule anywhere."""
    persons = sorted({c.person_key for c in claims})
    ids = {c.id for c in claims}
    others: dict[str, list[Any]] = defaultdict(list)
    for part in chunks(persons):
        rows = await session.execute(
            select(claims_t.c.id, claims_t.c.person_key, claims_t.c.claim_type, claims_t.c.part, claims_t.c.kind,
                   claims_t.c.policy_year, claims_t.c.rule_ids)
            .where(claims_t.c.person_key.in_(part), claims_t.c.state.in_(ELIGIBLE_OR_LATER))
        )
        for row in rows.all():
            others[row.person_key].append(row)
    twice: set[uuid.UUID] = set()
    for claim in claims:
        for other in others.get(claim.person_key, ()):
            if other.id == claim.id or other.claim_type != claim.claim_type or other.part != claim.part:
                continue
            same_rule = set(other.rule_ids) & set(claim.rule_ids)
            if claim.claim_type == "evaluation":
                if same_rule and other.kind == claim.kind and other.id not in ids | {claim.id}:
                    twice.add(claim.id)
            elif other.policy_year == claim.policy_year and other.kind == claim.kind and same_rule:
                twice.add(claim.id)
    return twice


async def lock_claims(session: AsyncSession, claim_ids: Sequence[uuid.UUID]) -> None:
    """Row locks on these claims in id order (PostgreSQL), the order a re-evaluation takes them in."""
    if session.bind.dialect.name != "postgresql" or not claim_ids:
        return
    for part in chunks(sorted(claim_ids)):
        await session.execute(
            select(claims_t.c.id).where(claims_t.c.id.in_(part)).order_by(claims_t.c.id).with_for_update()
        )


async def set_claim_states(session: AsyncSession, claim_ids: Sequence[uuid.UUID], from_states: Sequence[str],
                           values: dict[str, Any]) -> int:
    """Moves these claims (those still in one of `from_states`) to new values; returns how many moved."""
    moved = 0
    for part in chunks(sorted(claim_ids)):
        result = await session.execute(
            update(claims_t).where(claims_t.c.id.in_(part), claims_t.c.state.in_(from_states)).values(**values)
            .execution_options(synchronize_session=False)
        )
        moved += result.rowcount or 0
    return moved


async def insert_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for part in chunks(rows):
        await session.execute(insert(lines_t), list(part))


def active_line_of_claims(claim_ids: Sequence[uuid.UUID]) -> Any:
    return and_(lines_t.c.claim_id.in_(claim_ids), lines_t.c.active)


def pending_condition() -> Any:
    return or_(lines_t.c.decision == "pending", and_(lines_t.c.sampled, lines_t.c.sample_checked_at.is_(None)))


async def claims_unchanged_since_declaration(session: AsyncSession, claim_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The claims among these still declared with their frozen amount (primary-key lookups)."""
    found: set[uuid.UUID] = set()
    for part in chunks(sorted(claim_ids)):
        rows = await session.execute(select(claims_t.c.id, claims_t.c.state, claims_t.c.recomputed_amount)
                                     .where(claims_t.c.id.in_(part)))
        found.update(i for i, state, recomputed in rows.all() if state == ClaimState.DECLARED and recomputed is None)
    return found


async def claim_states(session: AsyncSession, claim_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Claim rows by id (primary-key lookups), for the settlement steps that filter on the state in Python."""
    found: dict[uuid.UUID, Any] = {}
    for part in chunks(sorted(claim_ids)):
        rows = await session.execute(select(claims_t.c.id, claims_t.c.state, claims_t.c.claim_type,
                                            claims_t.c.policy_year, claims_t.c.person_key, claims_t.c.voucher_id)
                                     .where(claims_t.c.id.in_(part)))
        found.update((row.id, row) for row in rows.all())
    return found
