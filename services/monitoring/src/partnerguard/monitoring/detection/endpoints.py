"""HTTP: detection — the partner's detector, rule and notification-deadline settings."""

from __future__ import annotations

from fastapi import APIRouter

from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.web.deps import SessionDep
from partnerguard.monitoring.deps import Reader, Writer
from partnerguard.monitoring.detection import service
from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.schemas import DetectorSettingsIn, DetectorSettingsOut
from partnerguard.monitoring.models import DetectorConfig

router = APIRouter(prefix="/v1/monitoring", tags=["detection"], responses=PROBLEM_RESPONSES)


def _out(row: DetectorConfig) -> DetectorSettingsOut:
    return DetectorSettingsOut(
        version=row.version,
        config=DetectionConfig.model_validate(row.config),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


@router.get(
    "/detectors",
    response_model=DetectorSettingsOut,
    summary="The detector settings in force",
    description="Every detector, activity rule and notification deadline; version 0 is the "
    "built-in defaults, before the partner saves settings of its own.",
)
async def get_settings(caller: Reader, session: SessionDep) -> DetectorSettingsOut:
    row = await service.saved_config(session, caller.partner_id)
    if row is None:
        return DetectorSettingsOut(version=service.DEFAULT_VERSION, config=DetectionConfig())
    return _out(row)


@router.put(
    "/detectors",
    response_model=DetectorSettingsOut,
    summary="Save the detector settings",
    description="Replaces the settings with the document sent, completed with the defaults "
    "wherever it is silent, as the next version; detectors and rules use it from their next "
    "run, notification deadlines for notices received from now. An unknown field or a value "
    "out of range is a 422 naming it, and nothing is saved.",
)
async def put_settings(
    body: DetectorSettingsIn, caller: Writer, session: SessionDep
) -> DetectorSettingsOut:
    row = await service.save_config(session, caller.partner_id, body.config, caller.client_id)
    return _out(row)
