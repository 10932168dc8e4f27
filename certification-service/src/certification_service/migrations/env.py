from skillkit.migrations import run_env
from certification_service.adapters.models import Base

run_env(Base.metadata)
