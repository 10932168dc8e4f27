"""`python -m voucher_service.migrate [upgrade|revision -m MSG]`: the start-up migration step."""

from skillkit.migrations import main

from voucher_service.config import VoucherSettings

if __name__ == "__main__":
    main("voucher_service.migrations", VoucherSettings())
