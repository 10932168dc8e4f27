"""`python -m certification_service.replay --since ISO | --since-seq N`: republish outbox events."""

from skillkit.outbox import replay_main

from certification_service.adapters.models import kit_tables
from certification_service.config import CertificationSettings

if __name__ == "__main__":
    replay_main("certification-service", kit_tables, CertificationSettings().database_url)
