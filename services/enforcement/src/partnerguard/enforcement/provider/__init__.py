"""The provider: the vendor's partner API, idempotent operations and the reconciler."""
