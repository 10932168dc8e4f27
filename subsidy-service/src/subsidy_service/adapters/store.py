"""Queries of the subsidy service: the fact store, locks, policy tables, claims. No commits here."""

from __future__ import annotations

import hashlib
from typing import Iterable

from sqlalchemy import func, or_, select, tuple_, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres, utcnow

from subsidy_service.adapters.models import Claim, FactRow, Person, PolicyTableRow
from subsidy_service.domain.facts import Fact, FactSet, payload_of
from subsidy_service.domain.policy import Policies, PolicyTable, default_2023

CLASS_KINDS = ("class", "class_approval", "class_outcome")
LINKING_KINDS = ("enrolled", "bound", "completed")


def _insert(session: AsyncSession, table):
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


async def lock_scopes(session: AsyncSession, names: Iterable[str], *, exclusive: bool) -> None:
    """Takes the scope locks in sorted order: exclusive for a class-level fact, shared for a fact that links
    a person to the scope (so person events do not block each other). PostgreSQL transaction-scoped advisory
    locks (two-key form, own namespace); a hash collision only serialises two scopes, never breaks anything.
    SQLite serialises writers itself."""
    names = sorted(set(names), key=_lock_key)
    if not names or not is_postgres(session):
        return
    function = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    # One statement; PostgreSQL evaluates the select list left to right, i.e. in sorted order.
    await session.execute(select(*(function(LOCK_NAMESPACE, _lock_key(name)) for name in names)))


LOCK_NAMESPACE = 0x5355  # "SU": the subsidy service's advisory-lock namespace


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


async def lock_persons(session: AsyncSession, person_keys: Iterable[str]) -> None:
    """Creates the person rows when absent and locks them, in sorted order, in one statement: an upsert
    that touches the row takes its row lock until the transaction ends (the per-person safety net)."""
    keys = sorted(set(person_keys))
    if not keys:
        return
    now = utcnow()
    stmt = _insert(session, Person.__table__).values([{"person_key": k, "updated_at": now} for k in keys])
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["person_key"], set_={"updated_at": stmt.excluded.updated_at})
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
    if fact.kind == "evaluation_institution":
        return [f"evaluation_institution:{fact.field('institution_id')}"], True
    if fact.kind == "certificate":
        return [f"evaluation_institution:{fact.field('institution_id')}"], False
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
    if fact.kind == "evaluation_institution":
        rows = await session.scalars(
            select(FactRow.person_key)
            .where(FactRow.kind == "certificate", FactRow.institution_id == fact.field("institution_id"))
            .distinct()
        )
        return sorted({r for r in rows if r})
    if not conditions:
        return []
    rows = await session.scalars(
        select(FactRow.person_key).where(FactRow.kind.in_(LINKING_KINDS), or_(*conditions)).distinct()
    )
    return sorted({r for r in rows if r})


async def put_fact(session: AsyncSession, fact: Fact, person_key: str | None = None) -> bool:
    """Stores a fact unless a newer version of it is already stored; True when it changed the store.
    One upsert: insert, or update only when the stored version is older (event time, then event id)."""
    values = dict(
        kind=fact.kind,
        key=fact.key,
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
    stmt = _insert(session, FactRow.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={name: stmt.excluded[name] for name in values if name not in ("kind", "key")},
        where=tuple_(FactRow.__table__.c.event_time, FactRow.__table__.c.event_id)
        < tuple_(stmt.excluded.event_time, stmt.excluded.event_id),
    ).returning(FactRow.__table__.c.id)
    return (await session.execute(stmt)).first() is not None


def _fact(row: FactRow) -> Fact:
    return Fact(row.event_type, row.event_id, row.event_time, payload_of(row.event_type, row.data))


async def person_facts(session: AsyncSession, person_key: str) -> FactSet:
    """One person's facts and the class, province and institution facts around them: one statement, a
    UNION ALL of index lookups (person key; class, enrolment and institution ids of the person's facts)."""
    cols = (FactRow.event_type, FactRow.event_id, FactRow.event_time, FactRow.data)
    own = select(FactRow.class_id, FactRow.enrolment_id, FactRow.institution_id).where(
        FactRow.person_key == person_key
    ).cte("own")
    stmt = union_all(
        select(*cols).where(FactRow.person_key == person_key),
        select(*cols).where(
            FactRow.class_id.in_(select(own.c.class_id)),
            FactRow.kind.in_((*CLASS_KINDS, "realname")),
            FactRow.person_key.is_(None),
        ),
        select(*cols).where(
            FactRow.enrolment_id.in_(select(own.c.enrolment_id)),
            FactRow.kind == "realname",
            FactRow.person_key.is_(None),
        ),
        # a training fact's institution may be suspended; a certificate's is the evaluation institution
        select(*cols).where(
            FactRow.institution_id.in_(select(own.c.institution_id)),
            FactRow.kind.in_(("suspended", "evaluation_institution")),
        ),
    )
    rows = await session.execute(stmt)
    return FactSet(_fact(r) for r in rows.all())


# A stored (year, version) never changes: each is parsed once (keyed with its changed_at, so that two
# databases in one process — tests — never share an entry).
_TABLES: dict[tuple[int, int, object], PolicyTable] = {}


async def policies(session: AsyncSession) -> Policies:
    t = PolicyTableRow
    keys = [tuple(k) for k in (await session.execute(select(t.policy_year, t.version, t.changed_at))).all()]
    if any(k not in _TABLES for k in keys):
        for row in await session.scalars(select(t)):
            _TABLES[(row.policy_year, row.version, row.changed_at)] = table_of(row)
    return Policies([_TABLES[k] for k in keys])


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
