"""`python -m certification_service.migrate [upgrade|revision -m MSG]`: the start-up migration step."""

from skillkit.migrations import main

from certification_service.config import CertificationSettings

if __name__ == "__main__":
    main("certification_service.migrations", CertificationSettings())
