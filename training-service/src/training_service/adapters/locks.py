"""One lock order for enrolment rows, so the service's writers of several enrolments cannot deadlock each other.

Every transaction that updates several enrolments takes their row locks in id order: a bulk completion's flush
(the ORM flushes in primary-key order), the province consumer's marks (sorted executemany, and this lock first
when it marks two columns), and a check-in upload's first days (`started_on`; its one UPDATE took the rows in
the plan's order — physical order on a table scan — and deadlocked with the consumer under the pipeline
benchmark). The lock is FOR NO KEY UPDATE, the one the UPDATEs take themselves: FOR UPDATE would also conflict
with the key-share locks of the check-ins an upload inserts (their foreign keys), in file order, and did
deadlock with them. SQLite serialises writers: nothing to order there.
"""

from __future__ import annotations

import uuid
from typing import Iterable

from sqlalchemy import Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from training_service.adapters.models import Enrolment

_enrolments = Enrolment.__table__
# An array parameter: one SQL text (one prepared statement) for any number of rows.
_LOCK_IN_ID_ORDER = (
    select(_enrolments.c.id).where(_enrolments.c.id == any_(bindparam("b_ids", type_=ARRAY(Uuid))))
    .order_by(_enrolments.c.id).with_for_update(key_share=True)
)


async def lock_enrolments(connection: AsyncConnection, ids: Iterable[uuid.UUID]) -> None:
    """Row locks on these enrolments, in id order, until the transaction ends (PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(_LOCK_IN_ID_ORDER, {"b_ids": sorted(set(ids))})
