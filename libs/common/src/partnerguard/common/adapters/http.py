"""The shared way adapters POST JSON to a provider: timeout, bearer token, bounded retries.

One ``httpx.AsyncClient`` serves a whole adapter set (``build_adapters`` creates it and
``Adapters.aclose`` closes it); each provider gets a :class:`ProviderClient` over it with its
own token and retry policy.

Retries cover what is likely to pass on a second try: connection failures, timeouts, 5xx and
429 (honouring a numeric ``Retry-After``). Any other 4xx is our mistake and is not repeated.
A timed-out POST may have been processed, so a retry can repeat it: every attempt of one call
carries the same ``Idempotency-Key`` header, for providers that deduplicate on it.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from partnerguard.common.adapters.errors import AdapterError
from partnerguard.common.tls import client_tls

log = structlog.get_logger()


@dataclass(frozen=True)
class RetryPolicy:
    """How long one attempt may take and how often a failed call is tried again."""

    timeout_seconds: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0

    @property
    def attempts(self) -> int:
        """Tries per call: the first one and the retries."""
        return max(self.retries, 0) + 1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): exponential, jittered."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff_seconds)
        ceiling = min(self.backoff_seconds * 2.0 ** (attempt - 1), self.max_backoff_seconds)
        # "Equal jitter": at least half the backoff, so retries of many callers spread out.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def new_http_client(service: str) -> httpx.AsyncClient:
    """The client one service's adapter set shares; timeouts are set per request by the policy."""
    return httpx.AsyncClient(
        headers={"User-Agent": f"partnerguard-{service}"},
        follow_redirects=False,
        verify=client_tls(),
    )


class ProviderClient:
    """One provider reached over a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: str,
        *,
        token: SecretStr | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.http = http
        self.provider = provider
        self._token = token
        self.policy = policy or RetryPolicy()

    async def post_json(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` as JSON and return the 2xx response; raise AdapterError otherwise."""
        headers = {"Accept": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        attempts = self.policy.attempts
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await self.http.post(
                    url,
                    json=dict(body),
                    params=dict(params) if params else None,
                    headers=headers,
                    timeout=self.policy.timeout_seconds,
                )
            except httpx.TimeoutException:
                reason = "timed out"
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"unreachable ({type(exc).__name__})"
            except httpx.HTTPError as exc:
                # An unsupported scheme, a proxy refusal ...: configuration, not bad luck.
                log.warning("adapter.rejected", provider=self.provider, error=type(exc).__name__)
                raise AdapterError(self.provider, f"failed ({type(exc).__name__})") from exc
            else:
                if response.is_success:
                    return response
                reason = f"answered HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    log.warning(
                        "adapter.rejected", provider=self.provider, status=response.status_code
                    )
                    raise AdapterError(self.provider, reason)
                retry_after = _retry_after(response)
            if attempt == attempts:
                log.warning(
                    "adapter.gave_up", provider=self.provider, attempts=attempts, reason=reason
                )
                raise AdapterError(self.provider, f"{reason} after {attempts} attempt(s)")
            delay = self.policy.delay(attempt, retry_after)
            log.info(
                "adapter.retry",
                provider=self.provider,
                attempt=attempt,
                reason=reason,
                delay_seconds=round(delay, 3),
            )
            await asyncio.sleep(delay)

    async def post_for_object(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST ``body`` as JSON and return the answer, which must be a JSON object."""
        response = await self.post_json(url, body, params=params)
        try:
            answer = response.json()
        except ValueError as exc:
            raise AdapterError(self.provider, "answered something that is not JSON") from exc
        if not isinstance(answer, dict):
            raise AdapterError(self.provider, "answered JSON that is not an object")
        return answer


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare for APIs, so fall back to our own backoff
