"""`python -m training_service.rotate_keys [status | rotate [--batch N] | retire KEY_ID]` (skillkit.rotate_keys)."""

import sys

from skillkit.rotate_keys import main

from training_service.adapters.models import ClassInterest, Enrolment
from training_service.config import TrainingSettings

ENCRYPTED_COLUMNS = (Enrolment.__table__.c.id_number_encrypted, ClassInterest.__table__.c.mobile_encrypted)

if __name__ == "__main__":
    sys.exit(main(TrainingSettings(), ENCRYPTED_COLUMNS))
