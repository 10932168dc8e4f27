from skillkit.migrations import run_env
from voucher_service.adapters.models import Base

run_env(Base.metadata)
