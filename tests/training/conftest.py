from __future__ import annotations

from typing import AsyncIterator

import pytest

from skillkit.testing.harness import ServiceUnderTest, running_service
from training_service.adapters.catalogue import import_occupations
from training_service.adapters.models import Base
from training_service.config import TrainingSettings
from training_service.main import create


@pytest.fixture(scope="session")
async def training_service(database_factory) -> AsyncIterator[ServiceUnderTest]:
    """The training API on its own migrated database, without a broker (relay and consumers off)."""
    settings = TrainingSettings(
        environment="test",
        database_url=await database_factory("training"),
        run_relay=False,
        run_consumers=False,
        movable_clock=True,  # no back-dated training: tests enrol at a past class's start (support.World.enrol)
    )
    async with running_service(create, settings, "training_service.migrations") as service:
        yield service


@pytest.fixture
async def ts(training_service: ServiceUnderTest) -> AsyncIterator[ServiceUnderTest]:
    training_service.app.state.clock.reset()
    await training_service.wipe(Base.metadata)
    async with training_service.sessionmaker() as session:
        await import_occupations(session)
        await session.commit()
    yield training_service


@pytest.fixture(scope="session")
async def training_service_on_broker(database_factory, broker) -> AsyncIterator[ServiceUnderTest]:
    """The training service with its outbox relay and consumers on the real Tansu broker (few tests only)."""
    settings = TrainingSettings(
        environment="test",
        database_url=await database_factory("training_bus"),
        kafka_bootstrap=broker.bootstrap,
        run_relay=True,
        run_consumers=True,
        consumer_max_attempts=2,
        movable_clock=True,
    )
    async with running_service(create, settings, "training_service.migrations") as service:
        yield service
