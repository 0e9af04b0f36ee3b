from partnerguard.common.migrations import run_env
from partnerguard.monitoring.models import Base

run_env(Base.metadata)
