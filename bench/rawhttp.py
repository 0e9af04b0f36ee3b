"""A minimal HTTP/1.1 client for load generators: pre-encoded requests on kept-alive sockets.

httpx costs the load generator more CPU per request than the servers under test spend, on a
machine whose cores they share; this reads just enough of each answer to keep the connection.
"""

from __future__ import annotations

import asyncio


def encode_request(
    method: str, path: str, authority: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    text = f"{method} {path} HTTP/1.1\r\nhost: {authority}\r\n"
    text += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if body:
        text += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return (text + "\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Status, keep-alive and body of one answer (Content-Length or chunked)."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head.split(b" ", 2)[1])
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    body = b""
    if fields.get(b"transfer-encoding", b"").strip() == b"chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
    else:
        body = await reader.readexactly(int(fields.get(b"content-length", b"0")))
    return status, b"close" not in fields.get(b"connection", b""), body
