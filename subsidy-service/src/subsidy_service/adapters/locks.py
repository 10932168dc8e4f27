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

from typing import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from skillkit.locks import lock_key, take_locks

from subsidy_service.domain.facts import FACT_KINDS, Fact, scope_of

SCOPE_NAMESPACE = 0x5355  # "SU"
PERSON_NAMESPACE = 0x5350  # "SP"


async def lock(conn: AsyncConnection | AsyncSession, scopes: dict[str, bool], persons: Iterable[str] = ()) -> None:
    """Takes the scope locks (name -> exclusive?), then the person locks, in one statement. A scope wanted both
    ways is taken exclusively (and so is a key two scope names share)."""
    scope_keys: dict[int, bool] = {}
    for name, exclusive in scopes.items():
        key = lock_key(name)
        scope_keys[key] = scope_keys.get(key, False) or exclusive
    await take_locks(conn, [(SCOPE_NAMESPACE, k, scope_keys[k]) for k in sorted(scope_keys)]
                     + [(PERSON_NAMESPACE, k, True) for k in sorted({lock_key(p) for p in persons})])


async def lock_persons(conn: AsyncConnection | AsyncSession, persons: Iterable[str]) -> None:
    """The person locks alone (API commands on a person's claims, a policy table's re-evaluation)."""
    await lock(conn, {}, persons)


def scopes_of(fact: Fact) -> tuple[list[str], bool]:
    """(scope lock names, exclusive?) for a fact, from its kind (`domain.facts.FACT_KINDS`).

    A fact without a person (class filing, approval, outcome; an institution's suspension or filing; a province
    answer on a class or an enrolment) and a person's fact that links the person to that scope (enrolled, bound,
    completed; a certificate and its evaluation institution) must never both miss each other: the first takes
    its scope exclusively, the second shares it."""
    scoped = scope_of(fact)
    if scoped is not None:
        scope, value = scoped
        return [f"{scope.name}:{value}"], True
    kind = FACT_KINDS[fact.kind]
    return [f"{scope.name}:{value}" for scope in kind.links if (value := fact.field(scope.column))], False
