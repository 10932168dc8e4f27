from skillkit.migrations import run_env
from training_service.adapters.models import Base

run_env(Base.metadata)
