"""A real local HTTP server publishing a JWKS, and a signer for test access tokens."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from partnerguard.cli.embedded import free_port


@dataclass
class Issuer:
    """Signs RFC 9068 access tokens and serves its public keys at ``jwks_url``."""

    port: int = field(default_factory=free_port)
    keys: list[ECKey] = field(default_factory=list)
    fetches: int = 0

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys.append(ECKey.generate_key("P-256", {"kid": "key-1", "use": "sig"}))
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    def rotate(self) -> ECKey:
        key = ECKey.generate_key("P-256", {"kid": f"key-{len(self.keys) + 1}", "use": "sig"})
        self.keys.append(key)
        return key

    def token(
        self,
        partner_id: uuid.UUID,
        scopes: list[str],
        *,
        audience: str | list[str],
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        key: ECKey | None = None,
        lifetime: int = 300,
    ) -> str:
        signing_key = key or self.keys[-1]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": audience,
            "sub": "client-1",
            "client_id": "client-1",
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(scopes),
            "partner_id": str(partner_id),
        }
        body.update(claims or {})
        head = {"alg": "ES256", "typ": "at+jwt", "kid": signing_key.kid}
        head.update(header or {})
        head = {name: value for name, value in head.items() if value is not None}
        return jwt.encode(head, body, signing_key, algorithms=[head["alg"]])

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
