"""Consumer handlers: the projection of known workers (person key, township, categories).

Safe in any order: `worker.account_linked.v1` may arrive before `worker.registered.v1` (then a
placeholder row waits for the registration), and a redelivered event changes nothing.

Set-based per consumer batch: the handlers only note each event's row in the batch's session;
`write_projection` (the consumer's before_commit, once per batch) writes them as multi-row upserts,
as few as the events' order allows (a new statement only where the event type changes or a person
comes again), and clears the unknown-person flag of the batch's registered persons in one UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.db import is_postgres, utcnow
from skillkit.events import Envelope

from certification_service.adapters.models import Candidate, KnownWorker

PENDING = "certification.known_workers"  # the session.info key of the batch's noted rows

REGISTERED, LINKED = "registered", "linked"


@dataclass
class _Run:
    """Consecutive events of one type, at most one per person: one upsert statement."""

    kind: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


def _note(session: AsyncSession, kind: str, row: dict[str, Any]) -> None:
    runs: list[_Run] = session.info.setdefault(PENDING, [])
    if not runs or runs[-1].kind != kind or row["person_key"] in runs[-1].rows:
        runs.append(_Run(kind))
    runs[-1].rows[row["person_key"]] = row


async def on_worker_registered(session: AsyncSession, envelope: Envelope) -> None:
    payload: WorkerRegistered = envelope.payload
    _note(
        session,
        REGISTERED,
        dict(
            person_key=payload.person_key,
            worker_id=payload.worker_id,
            township=payload.township,
            categories=sorted(str(c) for c in payload.categories),
            account_subject=payload.account_subject,
            registered=True,
            updated_at=utcnow(),
        ),
    )


async def on_worker_account_linked(session: AsyncSession, envelope: Envelope) -> None:
    payload: WorkerAccountLinked = envelope.payload
    _note(
        session,
        LINKED,
        dict(
            person_key=payload.person_key,
            worker_id=payload.worker_id,
            township=None,
            categories=[],
            account_subject=payload.account_subject,
            registered=False,  # a placeholder until the registration arrives
            updated_at=utcnow(),
        ),
    )


async def write_projection(session: AsyncSession) -> None:
    registered: set[str] = set()
    postgres = is_postgres(session)
    for run in session.info.pop(PENDING, []):
        if run.kind == REGISTERED:
            registered.update(run.rows)
        await session.execute(_upsert(postgres, run.kind), list(run.rows.values()))
    if registered:
        # Candidates registered before the worker was known are no longer unknown persons.
        await session.execute(_KNOWN_NOW, {"keys": list(registered)})


# Only the rows that change: a registration (or a later update of it) locks no candidate that is known already.
_KNOWN_NOW = update(Candidate).where(
    Candidate.person_key.in_(bindparam("keys", expanding=True)), Candidate.unknown_person.is_(True)
).values(unknown_person=False)


@cache
def _upsert(postgres: bool, kind: str) -> Any:
    """The projection's upsert of a run of `kind`, built once per dialect (each batch used to build it again)."""
    table = KnownWorker.__table__
    stmt = (postgresql.insert if postgres else sqlite.insert)(table)
    if kind == REGISTERED:
        changes = {
            "worker_id": stmt.excluded.worker_id,
            "township": stmt.excluded.township,
            "categories": stmt.excluded.categories,
            # an account linked earlier stays linked
            "account_subject": func.coalesce(table.c.account_subject, stmt.excluded.account_subject),
            "registered": True,
            "updated_at": stmt.excluded.updated_at,
        }
    else:
        changes = {"account_subject": stmt.excluded.account_subject, "updated_at": stmt.excluded.updated_at}
    return stmt.on_conflict_do_update(index_elements=["person_key"], set_=changes)
