"""PartnerGuard gateway service.

The public door: OAuth 2.0 tokens, the tenant-safe proxy to the services, rate limits and webhooks.
"""
