"""The registry: customers and their subscriptions, fed by events and by the API."""
