"""A fixed-window request limiter per client, counted in the service's database so that every replica shares it
(the certification service's public certificate check, the subsidy service's disclosure pages).

Issue 16: the in-memory limiter counted per process, so N replicas allowed N times the limit. One upsert per
request (`INSERT … ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits`) counts atomically across
processes. A fixed window lets a client spend its limit at the end of one window and again at the start of the
next (at most twice the limit within one window's length); that is the price of one row per client and window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class SharedWindowLimiter:
    """`table`: the service's rate-limit table (bucket, client, window_no primary key; hits)."""

    def __init__(
        self,
        table: Table,
        bucket: str,
        limit: int,
        window_seconds: float,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession] | None],
        address_key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self.bucket = bucket
        self.limit = limit
        self.window = window_seconds
        self._sessionmaker = sessionmaker  # the runtime's, which exists once the app started
        self._address_key = address_key.encode()
        self.clock = clock  # wall clock: replicas agree on it (NTP), unlike their monotonic clocks
        self._purged_window = -1

    async def hit(self, client: str) -> float | None:
        """Counts one request; returns None if allowed, else the seconds until the window ends."""
        now = self.clock()
        window_no = int(now // self.window)
        maker = self._sessionmaker()
        assert maker is not None, "the limiter is used before the service started"
        async with maker() as session, session.begin():
            insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            statement = insert(self._table).values(bucket=self.bucket, client=self._pseudonym(client),
                                              window_no=window_no, hits=1)
            statement = statement.on_conflict_do_update(
                index_elements=[self._table.c.bucket, self._table.c.client, self._table.c.window_no],
                set_={"hits": self._table.c.hits + 1},
            ).returning(self._table.c.hits)
            hits = (await session.execute(statement)).scalar_one()
            if window_no != self._purged_window:  # once per window and process: forget the windows before
                self._purged_window = window_no
                await session.execute(delete(self._table).where(self._table.c.bucket == self.bucket,
                                                           self._table.c.window_no < window_no))
        if hits > self.limit:
            return max(0.0, (window_no + 1) * self.window - now)
        return None

    def _pseudonym(self, client: str) -> str:
        # Client addresses are personal data; the table only needs to tell them apart for one window.
        return hmac.new(self._address_key, b"rate-limit:" + client.encode(), hashlib.sha256).hexdigest()
