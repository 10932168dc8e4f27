from __future__ import annotations

from skillkit.testing.fixtures import service_fixtures
from voucher_service.adapters.models import Base
from voucher_service.config import VoucherSettings
from voucher_service.main import create

voucher_service, vs = service_fixtures(
    "voucher", "vs", create, VoucherSettings, Base.metadata,
    wechat_transport="fake",
    # the tests run the notification sender and the expiry reminders themselves
    notification_send_seconds=3600,
    expiry_reminder_seconds=3600,
)
