"""Consumer handlers: the projection of known workers (person key, township, categories).

Safe in any order: `worker.account_linked.v1` may arrive before `worker.registered.v1` (then a
placeholder row waits for the registration), and a redelivered event changes nothing.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.contracts.voucher import WorkerAccountLinked, WorkerRegistered
from skillkit.db import utcnow
from skillkit.events import Envelope

from certification_service.adapters.models import Candidate, KnownWorker


async def on_worker_registered(session: AsyncSession, envelope: Envelope) -> None:
    payload: WorkerRegistered = envelope.payload
    worker = await session.get(KnownWorker, payload.person_key)
    if worker is None:
        worker = KnownWorker(person_key=payload.person_key, account_subject=payload.account_subject)
        session.add(worker)
    worker.worker_id = payload.worker_id
    worker.township = payload.township
    worker.categories = sorted(str(c) for c in payload.categories)
    worker.account_subject = worker.account_subject or payload.account_subject
    worker.registered = True
    worker.updated_at = utcnow()
    # Candidates registered before the worker was known are no longer unknown persons.
    await session.execute(
        update(Candidate).where(Candidate.person_key == payload.person_key).values(unknown_person=False)
    )


async def on_worker_account_linked(session: AsyncSession, envelope: Envelope) -> None:
    payload: WorkerAccountLinked = envelope.payload
    worker = await session.get(KnownWorker, payload.person_key)
    if worker is None:
        session.add(
            KnownWorker(
                person_key=payload.person_key,
                worker_id=payload.worker_id,
                township=None,
                categories=[],
                account_subject=payload.account_subject,
                registered=False,
                updated_at=utcnow(),
            )
        )
        return
    worker.account_subject = payload.account_subject
    worker.updated_at = utcnow()
