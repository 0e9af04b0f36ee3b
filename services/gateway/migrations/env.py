from partnerguard.gateway.models import Base
from partnerguard.common.migrations import run_env

run_env(Base.metadata)
