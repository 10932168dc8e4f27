from skillkit.migrations import run_env
from subsidy_service.adapters import settlement_models  # noqa: F401  (its tables on the metadata)
from subsidy_service.adapters.models import Base

run_env(Base.metadata)
