"""`python -m training_service.migrate [upgrade|revision -m MSG]`: the start-up migration step."""

from skillkit.migrations import main

from training_service.config import TrainingSettings

if __name__ == "__main__":
    main("training_service.migrations", TrainingSettings())
