from __future__ import annotations

import time

from certification_service.adapters.models import Base
from certification_service.config import CertificationSettings
from certification_service.main import create
from skillkit.testing.fixtures import service_fixtures
from skillkit.testing.harness import ServiceUnderTest


async def _reset(service: ServiceUnderTest) -> None:
    service.app.state.verify_limiter.clock = time.time  # rate_limit_hits were emptied with the other tables


certification_service, cs = service_fixtures(
    "certification", "cs", create, CertificationSettings, Base.metadata, reset=_reset,
    verify_rate_limit=5,
    verify_rate_window_seconds=60.0,
)
