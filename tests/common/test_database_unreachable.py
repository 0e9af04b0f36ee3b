"""A database that cannot be reached is a 503 the client may retry, not a 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from partnerguard.common.errors import install_problem_handlers


class _LostConnection(Exception):
    """What a driver raises when the server closed the connection."""


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/lost")
    async def lost() -> None:
        raise DBAPIError("SELECT 1", {}, _LostConnection(), connection_invalidated=True)

    @app.get("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    @app.get("/failed")
    async def failed() -> None:
        raise DBAPIError("INSERT ...", {}, ValueError("a statement that failed"))

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_a_lost_or_refused_database_connection_is_a_retryable_503() -> None:
    for path in ("/lost", "/refused"):
        response = await _get(path)
        assert response.status_code == 503, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert "Idempotency-Key" in response.json()["detail"]
        assert "5432" not in response.text  # nothing of the error itself reaches the caller


async def test_a_statement_that_fails_stays_an_internal_error() -> None:
    response = await _get("/failed")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "statement" not in response.text
