"""`python -m subsidy_service.migrate [upgrade|revision -m MSG]`: the start-up migration step."""

from skillkit.migrations import main

from subsidy_service.config import SubsidySettings

if __name__ == "__main__":
    main("subsidy_service.migrations", SubsidySettings())
