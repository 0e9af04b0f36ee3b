"""Activity logs: a customer tenant's operations in batches, and the rules that flag them."""
