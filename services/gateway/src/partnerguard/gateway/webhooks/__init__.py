"""Webhooks: a partner's events delivered to its HTTPS endpoints, signed per Standard Webhooks."""
