from __future__ import annotations

from typing import AsyncIterator

import pytest

from skillkit.testing.fixtures import service_fixtures
from skillkit.testing.harness import ServiceUnderTest, running_service
from training_service.adapters.catalogue import import_occupations
from training_service.adapters.models import Base
from training_service.config import TrainingSettings
from training_service.main import create

MIGRATIONS = "training_service.migrations"


async def _reset(service: ServiceUnderTest) -> None:
    service.app.state.clock.reset()
    async with service.sessionmaker() as session:
        await import_occupations(session)
        await session.commit()


training_service, ts = service_fixtures(
    "training", "ts", create, TrainingSettings, Base.metadata, reset=_reset,
    movable_clock=True,  # no back-dated training: tests enrol at a past class's start (support.World.enrol)
)


@pytest.fixture(scope="session")
async def training_service_on_broker(database_factory, broker) -> AsyncIterator[ServiceUnderTest]:
    """The training service with its outbox relay and consumers on the real Tansu broker (few tests only)."""
    settings = TrainingSettings(
        environment="test",
        database_url=await database_factory("training_bus", migrated=MIGRATIONS),
        kafka_bootstrap=broker.bootstrap,
        run_relay=True,
        run_consumers=True,
        consumer_max_attempts=2,
        movable_clock=True,
    )
    async with running_service(create, settings, MIGRATIONS) as service:
        yield service
