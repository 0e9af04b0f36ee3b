"""The audit log: every enforcement action, append-only and hash-chained per partner."""
