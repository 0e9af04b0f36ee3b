from partnerguard.common.migrations import run_env
from partnerguard.gateway.models import Base

run_env(Base.metadata)
