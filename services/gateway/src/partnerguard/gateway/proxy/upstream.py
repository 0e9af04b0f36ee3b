"""A small HTTP/1.1 client for the proxy's hop to the services: kept-alive connections per
service, a timeout on every wait, bodies passed as bytes or streamed.

The proxy's hop is the gateway's hot path. A general-purpose client (httpx over httpcore) spent
more CPU per forwarded request than the rest of the gateway together: URL and header models,
a pool that rescans every connection per request, a lock and event per request. The services
all speak plain HTTP/1.1 on a private network, which this does with a few reads and writes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

# Response bodies up to this size, with a declared length, are read whole; larger or chunked
# ones are streamed.
BUFFERED_BODY_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024
_MAX_HEAD_BYTES = 64 * 1024
# Idempotent methods are retried once when a kept-alive connection turns out to be closed.
_RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_HEX = frozenset(b"0123456789abcdefABCDEF")


class UpstreamError(Exception):
    """The service could not be reached or did not answer properly."""


class UpstreamConnectError(UpstreamError):
    """No connection could be opened."""


class UpstreamTimeout(UpstreamError):
    """No connection, or no answer, within the timeout."""


class UpstreamProtocolError(UpstreamError):
    """The connection failed or closed mid-exchange, or the answer was not HTTP/1.1."""


class _StaleConnection(UpstreamProtocolError):
    """A reused connection closed before any byte of the answer: safe to retry idempotents."""


@dataclass(frozen=True, slots=True)
class Origin:
    host: str
    port: int
    authority: bytes

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// service URLs are supported: {base_url!r}")
        port = parts.port or 80
        authority = parts.hostname if parts.port is None else f"{parts.hostname}:{port}"
        return cls(parts.hostname, port, authority.encode("ascii"))


class _Connection:
    __slots__ = ("idle_since", "origin", "reader", "writer")

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class UpstreamResponse:
    """Status and headers (names lower-case); ``body`` when read whole, else ``stream()``."""

    __slots__ = ("_client", "_connection", "_length", "_reusable", "body", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        *,
        client: UpstreamClient | None = None,
        connection: _Connection | None = None,
        length: int | None = None,
        reusable: bool = False,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._client = client
        self._connection = connection
        self._length = length  # None: chunked (when reusable) or until the service closes
        self._reusable = reusable

    async def stream(self, read_timeout: float) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection goes back to the pool once it is all read."""
        if self.body is not None:
            if self.body:
                yield self.body
            return
        connection, client = self._connection, self._client
        assert connection is not None
        assert client is not None
        reader = connection.reader
        if self._length is not None:
            chunks = _read_length(reader, self._length, read_timeout)
        elif self._reusable:
            chunks = _read_chunked(reader, read_timeout)
        else:
            chunks = _read_until_close(reader, read_timeout)
        try:
            async for chunk in chunks:
                yield chunk
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            self._connection = None
            client.release(connection, reusable=False)
            raise UpstreamProtocolError(f"the body was cut short: {exc!r}") from exc
        except BaseException:
            self._connection = None
            client.release(connection, reusable=False)
            raise
        self._connection = None
        client.release(connection, reusable=self._reusable)

    async def aclose(self) -> None:
        """Give up on an unread body: its connection cannot be reused."""
        if self._connection is not None and self._client is not None:
            self._client.release(self._connection, reusable=False)
            self._connection = None


class UpstreamClient:
    """Kept-alive connections to the services, at most ``max_connections`` in use at once."""

    def __init__(
        self,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive_expiry = keepalive_expiry
        self.max_connections = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._origins: dict[str, Origin] = {}
        self._closed = False

    def origin(self, base_url: str) -> Origin:
        """The parsed ``http://host:port`` of a service, remembered."""
        origin = self._origins.get(base_url)
        if origin is None:
            origin = self._origins[base_url] = Origin.parse(base_url)
        return origin

    async def send(
        self,
        origin: Origin,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        body_length: int | None = None,
    ) -> UpstreamResponse:
        """Send one request; ``headers`` must not carry Host or framing (they are set here).

        A body given as bytes goes with its length; an iterator with ``body_length`` when it
        yields exactly that many bytes, else chunked; ``None`` is no body. A streamed answer
        holds its connection until read to the end or closed.
        """
        head = _request_head(method, target, origin.authority, headers, body, body_length)
        upload_chunked = body_length is None
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise UpstreamTimeout("no free connection to the service in time") from None
        else:
            await self._slots.acquire()
        try:
            connection, reused = await self._checkout(origin)
            try:
                return await self._exchange(connection, reused, method, head, body, upload_chunked)
            except _StaleConnection:
                if method not in _RETRYABLE or not (body is None or isinstance(body, bytes)):
                    raise
            connection = await self._connect(origin)
            return await self._exchange(connection, False, method, head, body, upload_chunked)
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: _Connection, *, reusable: bool) -> None:
        """Free the connection's slot; keep the connection for reuse, or close it."""
        self._slots.release()
        self._put_back(connection, reusable)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    def _put_back(self, connection: _Connection, reusable: bool) -> None:
        if not reusable or self._closed:
            connection.close()
            return
        idle = self._idle.get(connection.origin)
        if idle is None:
            idle = self._idle[connection.origin] = deque()
        now = asyncio.get_running_loop().time()
        connection.idle_since = now
        idle.append(connection)
        # The oldest are at the left: close those past their time, and any beyond the limit.
        while len(idle) > self.max_connections or now - idle[0].idle_since > self.keepalive_expiry:
            idle.popleft().close()

    async def _checkout(self, origin: Origin) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()
                if (
                    now - connection.idle_since <= self.keepalive_expiry
                    and not connection.reader.at_eof()
                    and not connection.writer.is_closing()
                ):
                    return connection, True
                connection.close()
        return await self._connect(origin), False

    async def _connect(self, origin: Origin) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    origin.host, origin.port, limit=_MAX_HEAD_BYTES
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {origin.host}:{origin.port} timed out") from None
        except OSError as exc:
            raise UpstreamConnectError(f"{origin.host}:{origin.port}: {exc!r}") from exc
        return _Connection(origin, reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        reused: bool,
        method: str,
        head: bytes,
        body: bytes | AsyncIterator[bytes] | None,
        upload_chunked: bool,
    ) -> UpstreamResponse:
        """One request and the head of its answer. A small body is read whole and the
        connection released; on failure the connection is closed and the slot left to the caller."""
        reader, writer = connection.reader, connection.writer
        loop = asyncio.get_running_loop()
        received = False
        try:
            async with asyncio.timeout(self.read_timeout) as deadline:
                if body is None:
                    writer.write(head)
                elif isinstance(body, bytes):
                    if len(body) <= _READ_CHUNK:
                        writer.write(head + body)  # one segment for a small request
                    else:
                        writer.write(head)
                        writer.write(body)
                        await writer.drain()
                else:
                    writer.write(head)
                    async for chunk in body:
                        if chunk:
                            writer.write(
                                b"%x\r\n%b\r\n" % (len(chunk), chunk) if upload_chunked else chunk
                            )
                            await writer.drain()
                            deadline.reschedule(loop.time() + self.read_timeout)
                    if upload_chunked:
                        writer.write(b"0\r\n\r\n")
                status, headers, version_11 = await _read_head(reader)
                received = True
                while 100 <= status < 200:  # interim answers (100 Continue, 103 Early Hints)
                    if status == 101:
                        raise UpstreamProtocolError("the service switched protocols")
                    status, headers, version_11 = await _read_head(reader)
                length, chunked, keep_alive = _framing(method, status, headers, version_11)
                if length is not None and length <= BUFFERED_BODY_BYTES:
                    deadline.reschedule(loop.time() + self.read_timeout)
                    content = await reader.readexactly(length) if length else b""
                    self.release(connection, reusable=keep_alive)
                    return UpstreamResponse(status, headers, content)
        except TimeoutError:
            connection.close()
            raise UpstreamTimeout("the service did not answer in time") from None
        except asyncio.IncompleteReadError as exc:
            connection.close()
            if reused and not received and not exc.partial:
                raise _StaleConnection("the kept-alive connection was closed") from None
            raise UpstreamProtocolError("the service closed the connection mid-answer") from None
        except ConnectionError as exc:
            connection.close()
            if reused and not received:
                raise _StaleConnection("the kept-alive connection was reset") from exc
            raise UpstreamProtocolError(f"the connection failed: {exc!r}") from exc
        except asyncio.LimitOverrunError:
            connection.close()
            raise UpstreamProtocolError("the service's answer head is too large") from None
        except OSError as exc:
            connection.close()
            raise UpstreamProtocolError(f"the connection failed: {exc!r}") from exc
        except BaseException:
            connection.close()
            raise
        return UpstreamResponse(
            status,
            headers,
            None,
            client=self,
            connection=connection,
            length=length,
            reusable=keep_alive and (length is not None or chunked),
        )


def _request_head(
    method: str,
    target: bytes,
    authority: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes | AsyncIterator[bytes] | None,
    body_length: int | None,
) -> bytes:
    lines = [b"%s %s HTTP/1.1\r\nhost: %s" % (method.encode("ascii"), target, authority)]
    lines += [name + b": " + value for name, value in headers]
    if isinstance(body, bytes):
        lines.append(b"content-length: %d" % len(body))
    elif body is not None and body_length is not None:
        lines.append(b"content-length: %d" % body_length)
    elif body is not None:
        lines.append(b"transfer-encoding: chunked")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append(b"content-length: 0")
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]], bool]:
    data = await reader.readuntil(b"\r\n\r\n")
    lines = data[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise UpstreamProtocolError("the service's answer is not HTTP/1.1")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:].isspace() or line[:1].isspace():
            raise UpstreamProtocolError("the service's answer has a malformed header")
        headers.append((name.lower(), value.strip()))
    return int(parts[1]), headers, parts[0] == b"HTTP/1.1"


def _framing(
    method: str, status: int, headers: list[tuple[bytes, bytes]], version_11: bool
) -> tuple[int | None, bool, bool]:
    """(content length, chunked, keep-alive) of an answer (RFC 9112 §6.3)."""
    keep_alive = version_11
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit() or (length is not None and length != int(value)):
                raise UpstreamProtocolError("the service's answer has a bad Content-Length")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            if not chunked:
                keep_alive = False
        elif name == b"connection" and b"close" in value.lower():
            keep_alive = False
    if method == "HEAD" or status in (204, 304):
        return 0, False, keep_alive
    if chunked:
        return None, True, keep_alive
    if length is None:
        return None, False, False  # the body runs until the service closes
    return length, False, keep_alive


async def _read_length(
    reader: asyncio.StreamReader, length: int, read_timeout: float
) -> AsyncIterator[bytes]:
    remaining = length
    while remaining:
        async with asyncio.timeout(read_timeout):
            chunk = await reader.read(min(remaining, _READ_CHUNK))
        if not chunk:
            raise UpstreamProtocolError("the service closed the connection mid-body")
        remaining -= len(chunk)
        yield chunk


async def _read_chunked(reader: asyncio.StreamReader, read_timeout: float) -> AsyncIterator[bytes]:
    while True:
        async with asyncio.timeout(read_timeout):
            line = await reader.readuntil(b"\r\n")
        size_field = line[:-2].split(b";", 1)[0].strip()
        if not size_field or not set(size_field) <= _HEX:
            raise UpstreamProtocolError("the service's chunked body is malformed")
        size = int(size_field, 16)
        if size == 0:
            async with asyncio.timeout(read_timeout):
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields are not passed on
            return
        async for chunk in _read_length(reader, size, read_timeout):
            yield chunk
        async with asyncio.timeout(read_timeout):
            if await reader.readexactly(2) != b"\r\n":
                raise UpstreamProtocolError("the service's chunked body is malformed")


async def _read_until_close(
    reader: asyncio.StreamReader, read_timeout: float
) -> AsyncIterator[bytes]:
    while True:
        async with asyncio.timeout(read_timeout):
            chunk = await reader.read(_READ_CHUNK)
        if not chunk:
            return
        yield chunk
