"""The one error every outbound adapter raises."""

from __future__ import annotations


class AdapterError(Exception):
    """A provider was unreachable, timed out, or answered an error (after the allowed retries).

    The message names the provider and what went wrong, never a token, password or URL (a URL
    may carry credentials). The caller decides whether the step fails or is retried later.
    """

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
