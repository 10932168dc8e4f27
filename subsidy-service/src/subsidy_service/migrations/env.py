from skillkit.migrations import run_env
from subsidy_service.adapters.models import Base

run_env(Base.metadata)
