"""The TLS context every outbound HTTP client of a process shares.

Building a context loads the trusted certificates: tens of milliseconds of CPU. Clients are made
per service app (its token verifier, its adapters, the gateway's fetchers), so each would pay
that again; an ``ssl.SSLContext`` is made to be shared. It is httpx's own default: certifi's
roots, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, hostnames checked.

httpcore sets the context's ALPN protocols as it connects, so every client sharing it must speak
the same ones: HTTP/1.1, as all of ours do.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()
