from partnerguard.common.migrations import run_env
from partnerguard.onboarding.models import Base

run_env(Base.metadata)
