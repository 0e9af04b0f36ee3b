from partnerguard.common.migrations import run_env
from partnerguard.enforcement.models import Base

run_env(Base.metadata)
