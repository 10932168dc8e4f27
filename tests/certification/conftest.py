from __future__ import annotations

import time
from typing import AsyncIterator

import pytest

from certification_service.adapters.models import Base
from certification_service.config import CertificationSettings
from certification_service.main import create
from skillkit.testing.harness import ServiceUnderTest, running_service


@pytest.fixture(scope="session")
async def certification_service(database_factory) -> AsyncIterator[ServiceUnderTest]:
    """The certification API on its own migrated database, without a broker (relay and consumers off)."""
    settings = CertificationSettings(
        environment="test",
        database_url=await database_factory("certification"),
        run_relay=False,
        run_consumers=False,
        verify_rate_limit=5,
        verify_rate_window_seconds=60.0,
    )
    async with running_service(create, settings, "certification_service.migrations") as service:
        yield service


@pytest.fixture
async def cs(certification_service: ServiceUnderTest) -> AsyncIterator[ServiceUnderTest]:
    await certification_service.wipe(Base.metadata)  # rate_limit_hits too
    certification_service.app.state.verify_limiter.clock = time.time
    yield certification_service
