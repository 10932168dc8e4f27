"""`python -m subsidy_service.replay --since ISO | --since-seq N`: republish outbox events."""

from skillkit.outbox import replay_main

from subsidy_service.adapters.models import kit_tables
from subsidy_service.config import SubsidySettings

if __name__ == "__main__":
    replay_main("subsidy-service", kit_tables, SubsidySettings().database_url)
