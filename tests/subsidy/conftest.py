from __future__ import annotations

from skillkit.testing.fixtures import service_fixtures
from skillkit.testing.harness import ServiceUnderTest
from subsidy_service.adapters.models import Base
from subsidy_service.config import SubsidySettings
from subsidy_service.jobs.policy_seed import seed_policy_tables
from subsidy_service.main import create


async def _reset(service: ServiceUnderTest) -> None:
    await seed_policy_tables(service.runtime.sessionmaker)  # the 2023 policy table


subsidy_service, ss = service_fixtures("subsidy", "ss", create, SubsidySettings, Base.metadata, reset=_reset)
