"""The one fixture factory behind the four services' test conftests (tests/<service>/conftest.py)."""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData

from skillkit.settings import ServiceSettings
from skillkit.testing.harness import ServiceUnderTest, running_service

Reset = Callable[[ServiceUnderTest], Awaitable[None]]


def service_fixtures(name: str, short: str, create: Callable[[Any], FastAPI], settings_class: type[ServiceSettings],
                     metadata: MetaData, reset: Reset | None = None, **settings: Any) -> tuple[Any, Any]:
    """Two fixtures, for a conftest to bind at module level (`voucher_service, vs = service_fixtures(...)`):

    - `<name>_service` (session): the service's API on its own migrated database, without a broker (relay and
      consumers off), with `settings` on top of the test environment's;
    - `<short>` (each test): that service with every table emptied, then `reset` (reference data seeded again,
      clocks and limiters put back), so each test starts from the same state."""
    migrations = f"{name}_service.migrations"

    @pytest.fixture(scope="session", name=f"{name}_service")
    async def session_service(database_factory: Any) -> AsyncIterator[ServiceUnderTest]:
        config = settings_class(environment="test", database_url=await database_factory(name, migrated=migrations),
                                run_relay=False, run_consumers=False, **settings)
        async with running_service(create, config, migrations) as service:
            yield service

    async def fresh_service(**session: ServiceUnderTest) -> AsyncIterator[ServiceUnderTest]:
        service = session[f"{name}_service"]
        await service.wipe(metadata)
        if reset is not None:
            await reset(service)
        yield service

    # pytest passes fixtures by parameter name: this one's parameter is the session fixture's name
    fresh_service.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(f"{name}_service", inspect.Parameter.KEYWORD_ONLY)])
    return session_service, pytest.fixture(name=short)(fresh_service)
