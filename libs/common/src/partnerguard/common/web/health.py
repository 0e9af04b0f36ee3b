"""``/healthz`` (the process is alive), ``/readyz`` (its database, migrated, and NATS answer),
``/metrics``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from partnerguard.common.web.deps import get_runtime

router = APIRouter(include_in_schema=False)


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime = get_runtime(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.db.ping(), 2.0)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    else:
        try:
            checks["schema"] = await asyncio.wait_for(runtime.schema_state(), 5.0)
        except Exception as exc:
            checks["schema"] = f"unknown: {type(exc).__name__}"
    if runtime.bus is not None and runtime.bus.connected:
        checks["nats"] = "ok"
    else:
        checks["nats"] = "unavailable"
    if runtime.draining:
        checks["shutdown"] = "draining"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
