from partnerguard.common.migrations import run_env
from partnerguard.common.tables import KernelBase

run_env(KernelBase.metadata)
