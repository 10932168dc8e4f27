"""Transaction-scoped PostgreSQL advisory locks, any number of them in one statement built once.

The SQL text is the same whatever the number of locks (arrays, not a select list that grows), so it is prepared
once per connection. SQLite serialises writers itself (BEGIN IMMEDIATE): nothing is taken there.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# In the order of the arrays: the volatile lock functions in the select list are evaluated after the ORDER BY,
# one row at a time.
_LOCK = text(
    "SELECT CASE WHEN t.exclusive THEN pg_advisory_xact_lock(t.namespace, t.key)::text"
    " ELSE pg_advisory_xact_lock_shared(t.namespace, t.key)::text END"
    " FROM unnest(CAST(:namespaces AS integer[]), CAST(:keys AS integer[]), CAST(:exclusive AS boolean[]))"
    " WITH ORDINALITY AS t(namespace, key, exclusive, n)"
    " ORDER BY t.n"
)


def lock_key(name: str) -> int:
    """A name as a 32-bit lock key; a collision only serialises two names, never breaks anything."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


async def take_locks(conn: AsyncConnection | AsyncSession, locks: Sequence[tuple[int, int, bool]]) -> None:
    """Takes (namespace, key, exclusive?) locks in the given order — callers sort them to avoid deadlocks —
    held until the transaction ends."""
    if not locks or (conn.bind if isinstance(conn, AsyncSession) else conn).dialect.name != "postgresql":
        return
    await conn.execute(_LOCK, {
        "namespaces": [namespace for namespace, _, _ in locks],
        "keys": [key for _, key, _ in locks],
        "exclusive": [exclusive for _, _, exclusive in locks],
    })
