"""The partner's collections policy: versions published over HTTP, accepted by customers."""
