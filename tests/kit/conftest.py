from __future__ import annotations

from typing import AsyncIterator

import pytest

from skillkit.testing.harness import ServiceUnderTest, running_service
from voucher_service.config import VoucherSettings
from voucher_service.main import create


@pytest.fixture
async def voucher_on_broker(database_factory, broker) -> AsyncIterator[ServiceUnderTest]:
    """The voucher service with its relay and consumers on the real Tansu broker."""
    settings = VoucherSettings(
        environment="test",
        database_url=await database_factory("vbroker", migrated="voucher_service.migrations"),
        kafka_bootstrap=broker.bootstrap,
        run_periodic=False,
    )
    async with running_service(create, settings, "voucher_service.migrations") as service:
        yield service
