"""pytest plugin with the platform's shared fixtures (loaded from pyproject's addopts)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from skillkit.migrations import upgrade
from skillkit.testing.infra import TansuBroker, choose_backend, create_pg_database, drop_pg_database, sqlite_url

_BACKEND: str | None = None


def test_backend() -> str:
    global _BACKEND
    if _BACKEND is None:
        _BACKEND = choose_backend()
    return _BACKEND


def pytest_configure(config: pytest.Config) -> None:
    test_backend()  # decided before any event loop runs (the probe uses asyncio.run)


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend = test_backend()
    if backend == "postgres":
        return ["skills platform: database tests run on PostgreSQL (127.0.0.1:5432), broker tests on Tansu"]
    return [
        "skills platform: PostgreSQL not reachable -> database tests run on SQLite "
        "(CI sets SKILLS_TEST_DATABASE=postgres and fails instead)"
    ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"skills platform: test database backend = {test_backend()}")


DatabaseFactory = Callable[..., Awaitable[str]]


def _worker_prefix(prefix: str) -> str:
    """Under pytest-xdist each worker is its own session with its own databases, templates and broker; its id
    (gw0, gw1, ...) in the database's name tells whose a database left behind is. The names are unique anyway
    (a random suffix), and each session drops only the databases it created."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{worker}_{prefix}" if worker else prefix


@pytest.fixture(scope="session")
async def database_factory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DatabaseFactory]:
    """Returns an async factory of fresh databases (URLs), dropped at the end of the session: empty, or with
    `migrated=<a service's migrations package>` already at that service's head — a copy of a database migrated
    once per session (PostgreSQL: CREATE DATABASE ... TEMPLATE; SQLite: a file copy), ~0.1 s instead of the
    ~1 s a migration run costs."""
    created: list[str] = []
    directory = tmp_path_factory.mktemp("db")
    templates: dict[str, str] = {}
    template_lock = asyncio.Lock()

    async def empty(prefix: str) -> str:
        prefix = _worker_prefix(prefix)
        url = await create_pg_database(prefix) if test_backend() == "postgres" else sqlite_url(directory, prefix)
        created.append(url)
        return url

    async def template(migrations: str) -> str:
        async with template_lock:
            if migrations not in templates:
                url = await empty("template_" + migrations.split(".")[0])
                await asyncio.to_thread(upgrade, migrations, url)
                templates[migrations] = url
            return templates[migrations]

    async def make(prefix: str, migrated: str | None = None) -> str:
        if migrated is None:
            return await empty(prefix)
        source = await template(migrated)
        if test_backend() == "postgres":
            url = await create_pg_database(_worker_prefix(prefix), template=source)
        else:
            url = sqlite_url(directory, prefix)
            shutil.copyfile(source.split("///", 1)[1], url.split("///", 1)[1])
        created.append(url)
        return url

    yield make
    if test_backend() == "postgres":
        # several at once: each DROP DATABASE waits for a checkpoint, and concurrent drops share one (2.3 s -> 0.1 s
        # each on a busy server, measured); a few connections only, as the server's 100 are shared
        slots = asyncio.Semaphore(8)

        async def drop(url: str) -> None:
            async with slots:
                await drop_pg_database(url)

        await asyncio.gather(*(drop(url) for url in created))


@pytest.fixture(scope="session")
def broker() -> Iterator[TansuBroker]:
    """A real Tansu broker for the whole session (or the one named by SKILLS_TEST_KAFKA)."""
    external = os.environ.get("SKILLS_TEST_KAFKA")
    if external:
        broker = TansuBroker(port=int(external.rsplit(":", 1)[1]))
        yield broker
        return
    broker = TansuBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]
