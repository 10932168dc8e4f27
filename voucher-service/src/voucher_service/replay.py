"""`python -m voucher_service.replay --since ISO | --since-seq N`: republish outbox events."""

from skillkit.outbox import replay_main

from voucher_service.adapters.models import kit_tables
from voucher_service.config import VoucherSettings

if __name__ == "__main__":
    replay_main("voucher-service", kit_tables, VoucherSettings().database_url)
