"""`python -m voucher_service.rotate_keys [status | rotate [--batch N] | retire KEY_ID]` (skillkit.rotate_keys)."""

import sys

from skillkit.rotate_keys import main

from voucher_service.adapters.models import Worker
from voucher_service.config import VoucherSettings

ENCRYPTED_COLUMNS = (Worker.__table__.c.id_number_encrypted, Worker.__table__.c.mobile_encrypted)

if __name__ == "__main__":
    sys.exit(main(VoucherSettings(), ENCRYPTED_COLUMNS))
