"""Queries of the subsidy service: the fact store, locks, policy tables, claims. No commits here."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres, utcnow

from subsidy_service.adapters.models import Claim, FactRow, LockRow, Person, PolicyTableRow
from subsidy_service.domain.facts import Fact, FactSet, payload_of, supersedes
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

CLASS_KINDS = ("class", "class_approval", "class_outcome")
LINKING_KINDS = ("enrolled", "bound", "completed")


def _insert(session: AsyncSession, table):
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


async def lock_scopes(session: AsyncSession, names: Iterable[str], *, exclusive: bool) -> None:
    """Takes the scope locks in sorted order (creating their rows when absent): exclusive for a class-level
    fact, shared for a fact that links a person to the scope (so person events do not block each other)."""
    names = sorted(set(names))
    if not names:
        return
    await session.execute(_insert(session, LockRow.__table__).values([{"name": n} for n in names]).on_conflict_do_nothing())
    await session.execute(
        select(LockRow.name).where(LockRow.name.in_(names)).order_by(LockRow.name).with_for_update(read=not exclusive)
    )


async def lock_persons(session: AsyncSession, person_keys: Iterable[str]) -> None:
    """Creates the person rows when absent and locks them in sorted order (after the scope locks)."""
    keys = sorted(set(person_keys))
    if not keys:
        return
    now = utcnow()
    await session.execute(
        _insert(session, Person.__table__)
        .values([{"person_key": k, "evaluations": 0, "updated_at": now} for k in keys])
        .on_conflict_do_nothing()
    )
    await session.execute(
        select(Person.person_key).where(Person.person_key.in_(keys)).order_by(Person.person_key).with_for_update()
    )


def scopes_of(fact: Fact) -> tuple[list[str], bool]:
    """(scope lock names, exclusive?) for a fact.

    A class-level fact (class filing, approval, outcome; an institution's suspension; a province answer
    without a person) and a fact that links a person to that scope (enrolled, bound, completed) must never
    both miss each other: the first takes the scope exclusively, the second shares it."""
    if fact.kind in CLASS_KINDS:
        return [f"class:{fact.field('class_id')}"], True
    if fact.kind == "suspended":
        return [f"institution:{fact.field('institution_id')}"], True
    if fact.kind == "realname" and not fact.person_key:
        if fact.field("enrolment_id"):
            return [f"enrolment:{fact.field('enrolment_id')}"], True
        return [f"class:{fact.field('class_id')}"], True
    if fact.kind in LINKING_KINDS:
        names = []
        for field, prefix in (("class_id", "class"), ("institution_id", "institution"), ("enrolment_id", "enrolment")):
            value = fact.field(field)
            if value:
                names.append(f"{prefix}:{value}")
        return names, False
    return [], False


async def affected_persons(session: AsyncSession, fact: Fact) -> list[str]:
    """The persons whose chains a fact can change (read after the scope locks are held)."""
    if fact.person_key:
        return [fact.person_key]
    conditions = []
    if fact.kind in CLASS_KINDS or (fact.kind == "realname" and not fact.field("enrolment_id")):
        conditions.append(FactRow.class_id == fact.field("class_id"))
    if fact.kind == "realname" and fact.field("enrolment_id"):
        conditions.append(FactRow.enrolment_id == fact.field("enrolment_id"))
    if fact.kind == "suspended":
        conditions.append(FactRow.institution_id == fact.field("institution_id"))
    if not conditions:
        return []
    rows = await session.scalars(
        select(FactRow.person_key).where(FactRow.kind.in_(LINKING_KINDS), or_(*conditions)).distinct()
    )
    return sorted({r for r in rows if r})


async def put_fact(session: AsyncSession, fact: Fact, person_key: str | None = None) -> bool:
    """Stores a fact unless a newer version of it is already stored; True when it changed the store."""
    row = await session.scalar(
        select(FactRow).where(FactRow.kind == fact.kind, FactRow.key == fact.key).with_for_update()
    )
    if row is not None:
        stored = Fact(row.event_type, row.event_id, row.event_time, None)
        if not supersedes(fact, stored):
            return False
    values = dict(
        event_type=fact.type,
        event_id=fact.event_id,
        event_time=fact.time,
        person_key=person_key or fact.person_key,
        voucher_id=fact.field("voucher_id"),
        enrolment_id=fact.field("enrolment_id"),
        class_id=fact.field("class_id"),
        institution_id=fact.field("institution_id"),
        data=fact.payload.model_dump(mode="json"),
        received_at=utcnow(),
    )
    if row is None:
        session.add(FactRow(kind=fact.kind, key=fact.key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    await session.flush()
    return True


def _fact(row: FactRow) -> Fact:
    return Fact(row.event_type, row.event_id, row.event_time, payload_of(row.event_type, row.data))


async def person_facts(session: AsyncSession, person_key: str) -> FactSet:
    """One person's facts and the class, province and institution facts around them."""
    own = list(await session.scalars(select(FactRow).where(FactRow.person_key == person_key)))
    class_ids = {r.class_id for r in own if r.class_id}
    enrolment_ids = {r.enrolment_id for r in own if r.enrolment_id}
    institution_ids = {r.institution_id for r in own if r.institution_id}
    conditions = []
    if class_ids:
        conditions.append(FactRow.kind.in_(CLASS_KINDS) & FactRow.class_id.in_(class_ids))
        conditions.append((FactRow.kind == "realname") & FactRow.class_id.in_(class_ids))
    if enrolment_ids:
        conditions.append((FactRow.kind == "realname") & FactRow.enrolment_id.in_(enrolment_ids))
    around = list(await session.scalars(select(FactRow).where(or_(*conditions)))) if conditions else []
    institution_ids |= {r.institution_id for r in around if r.institution_id}
    if institution_ids:
        around += list(
            await session.scalars(
                select(FactRow).where(FactRow.kind == "suspended", FactRow.institution_id.in_(institution_ids))
            )
        )
    return FactSet(_fact(r) for r in own + around)


async def policies(session: AsyncSession) -> Policies:
    rows = await session.scalars(select(PolicyTableRow))
    return Policies([table_of(r) for r in rows])


def table_of(row: PolicyTableRow) -> PolicyTable:
    return PolicyTable.model_validate(
        {**row.body, "policy_year": row.policy_year, "version": row.version,
         "effective_from": row.effective_from, "effective_to": row.effective_to}
    )


async def ensure_default_tables(session: AsyncSession) -> bool:
    """Seeds the 2023 table of RULES.md as version 1 when it is not there; True when it seeded."""
    if await session.get(PolicyTableRow, (2023, 1)) is not None:
        return False
    table = default_2023()
    session.add(
        PolicyTableRow(
            policy_year=table.policy_year,
            version=table.version,
            effective_from=table.effective_from,
            effective_to=table.effective_to,
            body=table.rule_values(),
            changed_by="system:RULES.md",
            changed_at=utcnow(),
            note="临技能办发〔2023〕1号 (RULES.md)",
        )
    )
    await session.flush()
    return True


async def claims_of(session: AsyncSession, person_key: str) -> dict[str, Claim]:
    rows = await session.scalars(select(Claim).where(Claim.person_key == person_key))
    return {f"{c.claim_type}:{c.subject_id}:{c.part}": c for c in rows}


async def person_of_subject(session: AsyncSession, subject: str) -> str | None:
    return await session.scalar(select(Person.person_key).where(Person.account_subject == subject).limit(1))
