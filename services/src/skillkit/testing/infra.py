"""Real infrastructure for tests: a fresh database per use (PostgreSQL in CI, SQLite otherwise) and a
real Tansu broker process."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg

from skillkit.tansu import TansuBroker, free_port  # noqa: F401  (re-exported for tests)

PG_ADMIN_DSN = os.environ.get("SKILLS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# auto: PostgreSQL when reachable, else SQLite; postgres: PostgreSQL or fail (CI); sqlite: SQLite only.
TEST_DATABASE = os.environ.get("SKILLS_TEST_DATABASE", "auto")


def postgres_reachable() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def choose_backend() -> str:
    if TEST_DATABASE == "sqlite":
        return "sqlite"
    if postgres_reachable():
        return "postgres"
    if TEST_DATABASE == "postgres":
        raise RuntimeError(f"SKILLS_TEST_DATABASE=postgres but PostgreSQL is not reachable at {PG_ADMIN_DSN}")
    return "sqlite"


async def create_pg_database(prefix: str, template: str | None = None) -> str:
    """A new database, empty or a copy of the database at URL `template` (which nobody may be connected to)."""
    name = f"t_{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        source = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{source}')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def sqlite_url(directory: Path, prefix: str) -> str:
    return f"sqlite+aiosqlite:///{directory / (prefix + '-' + uuid.uuid4().hex[:8] + '.db')}"
