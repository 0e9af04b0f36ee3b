"""The ``partnerguard`` operator command and the embedded PostgreSQL + NATS servers."""
