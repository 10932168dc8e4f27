"""`python -m certification_service.rotate_keys [status | rotate [--batch N] | retire KEY_ID]`
(skillkit.rotate_keys)."""

import sys

from skillkit.rotate_keys import main

from certification_service.adapters.models import Candidate
from certification_service.config import CertificationSettings

ENCRYPTED_COLUMNS = (Candidate.__table__.c.id_number_encrypted,)

if __name__ == "__main__":
    sys.exit(main(CertificationSettings(), ENCRYPTED_COLUMNS))
