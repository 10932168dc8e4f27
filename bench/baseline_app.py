"""The baseline of the voucher-claim benchmark: a minimal FastAPI + asyncpg endpoint.

`POST /claim {"kind": ..., "person_key": ...}` does, in one transaction, one INSERT into a vouchers-like
table (with the same E4-style unique key) and one INSERT into an outbox-like table (a CloudEvents-sized
JSON body), and answers 201 with a small JSON body. No auth, no ORM, no validation beyond pydantic,
no middleware: what the voucher service costs on top of this is the price of the platform.

Run: `BENCH_BASELINE_DSN=postgresql://postgres@127.0.0.1:5432/db uvicorn bench.baseline_app:app`.
A `sqlite:` path as the DSN uses aiosqlite instead (only so the smoke test also runs off PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

DSN = os.environ.get("BENCH_BASELINE_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
POOL_SIZE = int(os.environ.get("BENCH_BASELINE_POOL", "40"))  # as many as the kit engine may open (20 + 20 overflow)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS baseline_vouchers (
        id uuid PRIMARY KEY, code varchar(16) NOT NULL UNIQUE, person_key varchar(64) NOT NULL,
        kind varchar(30) NOT NULL, policy_year integer NOT NULL, status varchar(20) NOT NULL,
        created_at timestamptz NOT NULL, UNIQUE (person_key, policy_year, kind))""",
    """CREATE TABLE IF NOT EXISTS baseline_outbox (
        seq bigserial PRIMARY KEY, event_id varchar(36) NOT NULL UNIQUE, event_type varchar(100) NOT NULL,
        partition_key varchar(100) NOT NULL, body bytea NOT NULL, created_at timestamptz NOT NULL,
        published_at timestamptz)""",
)
INSERT_VOUCHER = (
    "INSERT INTO baseline_vouchers (id, code, person_key, kind, policy_year, status, created_at) "
    "VALUES ($1, $2, $3, $4, $5, 'issued', $6)"
)
INSERT_OUTBOX = (
    "INSERT INTO baseline_outbox (event_id, event_type, partition_key, body, created_at) "
    "VALUES ($1, 'voucher.issued.v1', $2, $3, $4)"
)


class ClaimIn(BaseModel):
    kind: str
    person_key: str


def _event(voucher_id: str, code: str, body: ClaimIn, now: datetime) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0", "id": event_id, "source": "baseline", "type": "voucher.issued.v1",
        "time": now.isoformat(), "subject": voucher_id, "datacontenttype": "application/json",
        "data": {"voucher_id": voucher_id, "code": code, "person_key": body.person_key, "kind": body.kind},
    }
    return event_id, json.dumps(envelope).encode()


class PgStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=POOL_SIZE)
        async with self.pool.acquire() as conn:
            for statement in SCHEMA:
                await conn.execute(statement)

    async def close(self) -> None:
        await self.pool.close()

    async def claim(self, body: ClaimIn) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        voucher_id, code = uuid.uuid4(), uuid.uuid4().hex[:10].upper()
        event_id, event = _event(str(voucher_id), code, body, now)
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(INSERT_VOUCHER, voucher_id, code, body.person_key, body.kind, now.year, now)
                await conn.execute(INSERT_OUTBOX, event_id, body.person_key, event, now)
        return {"id": str(voucher_id), "code": code, "kind": body.kind, "status": "issued"}


class SqliteStore(PgStore):
    async def open(self) -> None:
        import aiosqlite

        self.pool = await aiosqlite.connect(self.dsn.removeprefix("sqlite:"))
        await self.pool.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA:
            await self.pool.execute(statement.replace("bigserial", "integer").replace("uuid", "varchar(36)"))
        await self.pool.commit()
        self.lock = asyncio.Lock()

    async def claim(self, body: ClaimIn) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        voucher_id, code = str(uuid.uuid4()), uuid.uuid4().hex[:10].upper()
        event_id, event = _event(voucher_id, code, body, now)
        async with self.lock:  # one connection: one transaction at a time
            await self.pool.execute(INSERT_VOUCHER.replace("$", "?"),
                                    (voucher_id, code, body.person_key, body.kind, now.year, now.isoformat()))
            await self.pool.execute(INSERT_OUTBOX.replace("$", "?"),
                                    (event_id, body.person_key, event, now.isoformat()))
            await self.pool.commit()
        return {"id": voucher_id, "code": code, "kind": body.kind, "status": "issued"}


store: PgStore = SqliteStore(DSN) if DSN.startswith("sqlite:") else PgStore(DSN)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await store.open()
    try:
        yield
    finally:
        await store.close()


app = FastAPI(title="voucher-claim baseline", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/claim", status_code=201)
async def claim(body: ClaimIn) -> JSONResponse:
    return JSONResponse(await store.claim(body), status_code=201)
