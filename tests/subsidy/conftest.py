from __future__ import annotations

from typing import AsyncIterator

import pytest

from skillkit.testing.harness import ServiceUnderTest, running_service
from subsidy_service.adapters.models import Base
from subsidy_service.config import SubsidySettings
from subsidy_service.jobs.policy_seed import seed_policy_tables
from subsidy_service.main import create


@pytest.fixture(scope="session")
async def subsidy_service(database_factory) -> AsyncIterator[ServiceUnderTest]:
    """The subsidy API on its own migrated database, without a broker (relay and consumers off)."""
    settings = SubsidySettings(
        environment="test",
        database_url=await database_factory("subsidy"),
        run_relay=False,
        run_consumers=False,
    )
    async with running_service(create, settings, "subsidy_service.migrations") as service:
        yield service


@pytest.fixture
async def ss(subsidy_service: ServiceUnderTest) -> AsyncIterator[ServiceUnderTest]:
    """A wiped database with the 2023 policy table seeded again."""
    await subsidy_service.wipe(Base.metadata)
    await seed_policy_tables(subsidy_service.runtime.sessionmaker)
    yield subsidy_service
