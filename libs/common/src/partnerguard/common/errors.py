"""Domain errors, defined once, and their one mapping to RFC 9457 problem+json.

Business code raises these; endpoints never build error responses by hand.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://partnerguard.dev/problems/"

log = structlog.get_logger()


class FieldProblem(BaseModel):
    """One problem with one input field."""

    loc: list[str | int] = Field(
        description="Where the problem is: body, query, path, header, then the field path."
    )
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class DomainError(Exception):
    """Base of every error that maps to a problem response."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(DomainError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, *, error: str = "invalid_token") -> None:
        # RFC 6750 §3: tell the client how to authenticate and why it failed.
        challenge = f'Bearer error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class InsufficientScope(Forbidden):
    """A valid token without a scope the route needs (RFC 6750 §3.1): the challenge names the
    scopes, so a client knows which token to ask for."""

    def __init__(self, missing: list[str]) -> None:
        scopes = " ".join(sorted(missing))
        super().__init__(f"the token lacks the scope {scopes}")
        self.headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scopes}"'}


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class Unprocessable(DomainError):
    status, slug, title = 422, "unprocessable", "Unprocessable request"


class PolicyViolation(DomainError):
    status, slug, title = 422, "policy-violation", "Policy violation"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class BadGateway(DomainError):
    status, slug, title = 502, "bad-gateway", "Bad gateway"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class GatewayTimeout(DomainError):
    status, slug, title = 504, "gateway-timeout", "Gateway timeout"


def problem_response(
    status: int,
    title: str,
    slug: str,
    *,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        loc = [part if isinstance(part, int) else str(part) for part in err.get("loc", ())]
        problems.append(
            FieldProblem(loc=loc, msg=str(err.get("msg", "")), type=str(err.get("type", "")))
        )
    return problems


_HTTP_TITLES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable request"),
    429: ("too-many-requests", "Too many requests"),
}


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the app can raise to problem+json; nothing else builds error bodies."""

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem_response(
            exc.status,
            exc.title,
            exc.slug,
            detail=exc.detail,
            instance=request.url.path,
            headers=exc.headers,
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            "Invalid request",
            "validation-error",
            detail="The request does not match the expected schema.",
            instance=request.url.path,
            errors=_field_problems(exc),
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _HTTP_TITLES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(
            exc.status_code,
            title,
            slug,
            detail=detail,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the caller; the log keeps it, keyed by request id.
        log.exception("request.unhandled_error", path=request.url.path)
        return problem_response(500, "Internal error", "internal-error", instance=request.url.path)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if not is_unreachable(exc):
            return await unhandled(request, exc)
        return await unavailable(request, exc)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database went away (a restart, a failover): a client that sends the request again
        # shortly succeeds, which a 500 would not tell it.
        log.warning("request.database_unreachable", path=request.url.path, error=repr(exc)[:300])
        return problem_response(
            503,
            "Service unavailable",
            "unavailable",
            detail="The service cannot reach its database just now; send the request again "
            "(a write with the same Idempotency-Key takes effect at most once).",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(ConnectionError, unavailable)
    app.add_exception_handler(Exception, unhandled)


def is_unreachable(exc: DBAPIError) -> bool:
    """Whether a database error means the server could not be reached (the connection was lost
    or refused), rather than that the statement failed."""
    return exc.connection_invalidated or isinstance(exc.orig, ConnectionError | OSError)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": title}
    for status, (_, title) in {
        400: _HTTP_TITLES[400],
        401: _HTTP_TITLES[401],
        403: _HTTP_TITLES[403],
        404: _HTTP_TITLES[404],
        409: _HTTP_TITLES[409],
        422: _HTTP_TITLES[422],
    }.items()
}
"""Error responses every authenticated route can give, for the OpenAPI document."""
