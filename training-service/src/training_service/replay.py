"""`python -m training_service.replay --since ISO | --since-seq N`: republish outbox events."""

from skillkit.outbox import replay_main

from training_service.adapters.models import kit_tables
from training_service.config import TrainingSettings

if __name__ == "__main__":
    replay_main("training-service", kit_tables, TrainingSettings().database_url)
