from __future__ import annotations

from typing import AsyncIterator

import pytest

from skillkit.testing.harness import ServiceUnderTest, running_service
from voucher_service.adapters.models import Base
from voucher_service.config import VoucherSettings
from voucher_service.main import create


@pytest.fixture(scope="session")
async def voucher_service(database_factory) -> AsyncIterator[ServiceUnderTest]:
    """The voucher API on its own migrated database, without a broker (relay and consumers off)."""
    settings = VoucherSettings(
        environment="test",
        database_url=await database_factory("voucher"),
        run_relay=False,
        run_consumers=False,
        wechat_transport="fake",
        # the tests run the notification sender and the expiry reminders themselves
        notification_send_seconds=3600,
        expiry_reminder_seconds=3600,
    )
    async with running_service(create, settings, "voucher_service.migrations") as service:
        yield service


@pytest.fixture
async def vs(voucher_service: ServiceUnderTest) -> AsyncIterator[ServiceUnderTest]:
    await voucher_service.wipe(Base.metadata)
    yield voucher_service
