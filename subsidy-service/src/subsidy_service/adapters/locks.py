"""The locks that make concurrent batches (and API commands) on the same persons and classes safe.

PostgreSQL transaction-scoped advisory locks (two-key form) in the service's own namespaces, held to the end of
the transaction. SQLite serialises writers itself (BEGIN IMMEDIATE), so nothing is taken there.

- A **person** lock (exclusive) serialises the re-evaluations of one person's chains and claims.
- A **scope** lock (class, institution, enrolment, evaluation institution) makes a class-level fact and a fact
  linking a person to that scope never miss each other: neither transaction would see the other's uncommitted
  row. The class-level fact takes the scope exclusively, the linking fact shares it (so person events do not
  block each other), and in READ COMMITTED the second transaction's later statements see the first one's rows.

Every transaction takes its scope locks before its person locks, each set sorted by lock key, so there is no
deadlock. A hash collision only serialises two scopes or two persons.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from subsidy_service.domain.facts import Fact

SCOPE_NAMESPACE = 0x5355  # "SU"
PERSON_NAMESPACE = 0x5350  # "SP"

CLASS_KINDS = ("class", "class_approval", "class_outcome")
LINKING_KINDS = ("enrolled", "bound", "completed")

# Any number of locks in one statement, in the order of the arrays; the volatile lock functions in the select
# list are evaluated after the ORDER BY, one row at a time.
_LOCK = text(
    "SELECT CASE WHEN t.exclusive THEN pg_advisory_xact_lock(t.namespace, t.key)::text"
    " ELSE pg_advisory_xact_lock_shared(t.namespace, t.key)::text END"
    " FROM unnest(CAST(:namespaces AS integer[]), CAST(:keys AS integer[]), CAST(:exclusive AS boolean[]))"
    " WITH ORDINALITY AS t(namespace, key, exclusive, n)"
    " ORDER BY t.n"
)


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


async def lock(conn: AsyncConnection | AsyncSession, scopes: dict[str, bool], persons: Iterable[str] = ()) -> None:
    """Takes the scope locks (name -> exclusive?), then the person locks, in one statement. A scope wanted both
    ways is taken exclusively (and so is a key two scope names share)."""
    if (conn.bind if isinstance(conn, AsyncSession) else conn).dialect.name != "postgresql":
        return
    scope_keys: dict[int, bool] = {}
    for name, exclusive in scopes.items():
        key = lock_key(name)
        scope_keys[key] = scope_keys.get(key, False) or exclusive
    person_keys = sorted({lock_key(p) for p in persons})
    ordered = sorted(scope_keys)
    if not ordered and not person_keys:
        return
    await conn.execute(_LOCK, {
        "namespaces": [SCOPE_NAMESPACE] * len(ordered) + [PERSON_NAMESPACE] * len(person_keys),
        "keys": ordered + person_keys,
        "exclusive": [scope_keys[k] for k in ordered] + [True] * len(person_keys),
    })


async def lock_persons(conn: AsyncConnection | AsyncSession, persons: Iterable[str]) -> None:
    """The person locks alone (API commands on a person's claims, a policy table's re-evaluation)."""
    await lock(conn, {}, persons)


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
