"""The chain projection: store the facts events carry, then re-evaluate the affected persons' chains.

The consumer's handler only collects each event's fact; the work is done once per batch, in the consumer's
before-commit step, in one transaction (the kit's EventProcessor commits it):
1. take all the scope locks (class, institution, enrolment) and then all the person locks, each in sorted
   order, in one statement (two when a class-level fact's persons must be read under its scope lock first);
2. store the facts with one multi-row upsert by natural key, never overwriting a newer version with an older
   one;
3. re-evaluate every person whose chains a stored fact can change (`reevaluation.reevaluate`), writing
   chains and claims by their natural keys and emitting `subsidy.claim_eligible.v1` /
   `subsidy.claim_voided.v1` on transitions.
So any order, delay, duplication or batching of the events leaves the same claims.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.events import Envelope

from subsidy_service.adapters import locks
from subsidy_service.adapters.fact_store import affected_persons, put_facts
from subsidy_service.adapters.persons import WORKER_KINDS, project_workers
from subsidy_service.domain.facts import Fact, from_envelope, scope_of
from subsidy_service.handlers.reevaluation import reevaluate

PENDING = "subsidy_pending_facts"


async def handle_event(session: AsyncSession, envelope: Envelope) -> None:
    """Collects the event's facts (one per line of a province sheet answer, P1); the batch's facts are stored
    and projected by `project_batch`."""
    facts = from_envelope(envelope)
    if facts:
        session.info.setdefault(PENDING, []).extend((fact, None) for fact in facts)


async def project_batch(session: AsyncSession) -> None:
    """The consumer's before-commit step."""
    pending = session.info.pop(PENDING, [])
    if pending:
        await apply_facts(session, pending)


async def apply_facts(session: AsyncSession, facts: list[tuple[Fact, str | None]]) -> None:
    """Stores facts — each with the person key to file it under when its payload names none (a review) — and
    re-evaluates everyone they affect, who stay locked until the transaction ends."""
    await session.flush()  # the statements below bypass the ORM: nothing of it may be pending
    conn = await session.connection()
    newest: dict[tuple[str, str], tuple[Fact, str | None]] = {}
    for fact, person_key in facts:
        # One version per natural key (the newest, as the store would keep it): a multi-row upsert must not
        # touch a row twice.
        slot = (fact.kind, fact.key)
        if slot not in newest or fact.order() > newest[slot][0].order():
            newest[slot] = (fact, person_key)
    scopes: dict[str, bool] = {}
    for fact, _ in newest.values():
        names, exclusive = locks.scopes_of(fact)
        for name in names:
            scopes[name] = scopes.get(name, False) or exclusive
    persons: dict[tuple[str, str], set[str]] = {
        slot: {person_key or fact.person_key} for slot, (fact, person_key) in newest.items()
        if person_key or fact.person_key
    }
    scoped = [fact for slot, (fact, _) in newest.items() if slot not in persons]
    if any(scope_of(fact) for fact in scoped):
        # The persons of a class-level fact are read once its scope is locked; all persons are locked after.
        await locks.lock(conn, scopes)
        persons.update(await affected_persons(conn, scoped))
        await locks.lock_persons(conn, {key for keys in persons.values() for key in keys})
    else:
        await locks.lock(conn, scopes, {key for keys in persons.values() for key in keys})
    changed = await put_facts(conn, list(newest.values()))
    workers = {key for slot in changed if slot[0] in WORKER_KINDS for key in persons.get(slot, ())}
    dirty = {key for slot in changed if slot[0] not in WORKER_KINDS for key in persons.get(slot, ())}
    await project_workers(conn, workers)
    await reevaluate(session, dirty)
