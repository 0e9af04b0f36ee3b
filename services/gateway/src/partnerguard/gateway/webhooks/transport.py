"""The HTTP client of webhook deliveries: it connects only to addresses it has vetted itself.

:class:`VettingNetworkBackend` resolves the host once per connection, refuses it if any address
is not public, and connects to a vetted address; TLS still verifies and sends SNI for the host
name (httpcore takes ``server_hostname`` from the URL, not from the address). So a name that
passed the check cannot be re-pointed at an internal address between check and connect.
Redirects are never followed (httpcore does not), every request has timeouts and a deadline,
and at most a little of the answer is read.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpcore
import httpx

from partnerguard.common.tls import client_tls
from partnerguard.gateway.webhooks.destinations import (
    DestinationRefused,
    resolve,
    vet_addresses,
)

USER_AGENT = "PartnerGuard-Webhooks/1.0"
# Structured-mode CloudEvents over HTTP (CloudEvents HTTP binding §3.2).
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0
    # The whole attempt, however slowly an endpoint trickles its answer.
    total: float = 15.0


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class VettingNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, vets and connects to the vetted address (unless private addresses are allowed)."""

    def __init__(self, *, allow_private: bool, inner: httpcore.AsyncNetworkBackend | None = None):
        self.allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        if not self.allow_private:
            addresses = vet_addresses(host, addresses)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address to connect to")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("webhooks are not delivered to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class WebhookSender:
    """Posts deliveries over one connection pool; use it as an async context manager."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeouts: Timeouts | None = None,
        max_connections: int = 50,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self._pool = httpcore.AsyncConnectionPool(
            # One context for every connection; by default certifi's roots, hostname checked.
            ssl_context=ssl_context or client_tls(),
            max_connections=max_connections,
            network_backend=VettingNetworkBackend(allow_private=allow_private),
            retries=0,
        )

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pool.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        """One attempt; never raises for what the endpoint or the network does."""
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        # As httpx does: IDNA host, and a Host header that keeps an IPv6 literal's brackets.
        parsed = httpx.URL(url)
        target = httpcore.URL(
            scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path
        )
        request_headers = [
            ("Host", parsed.netloc.decode("ascii")),
            ("User-Agent", USER_AGENT),
            ("Content-Type", CONTENT_TYPE),
            *headers.items(),
        ]
        extensions = {
            "timeout": {
                "connect": self.timeouts.connect,
                "read": self.timeouts.read,
                "write": self.timeouts.write,
                "pool": self.timeouts.connect,
            }
        }
        try:
            async with (
                asyncio.timeout(self.timeouts.total),
                self._pool.stream(
                    "POST", target, headers=request_headers, content=body, extensions=extensions
                ) as response,
            ):
                status = response.status
                # Read a small answer to its end so the connection can be reused; never more.
                received = 0
                async for chunk in response.aiter_stream():
                    received += len(chunk)
                    if received > MAX_ANSWER_BYTES:
                        break
        except DestinationRefused as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no complete answer within {self.timeouts.total:g} s"
        except httpcore.ConnectTimeout:
            error = "timed out connecting"
        except httpcore.TimeoutException:
            error = "timed out waiting for the answer"
        except httpcore.ConnectError as exc:
            error = f"could not connect: {exc or type(exc).__name__}"
        except httpcore.ProtocolError as exc:
            error = f"protocol error: {exc or type(exc).__name__}"
        except (httpcore.NetworkError, httpcore.UnsupportedProtocol) as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = round((time.perf_counter() - started) * 1000)
        return AttemptResult(status, error[:500] if error else None, duration_ms)
