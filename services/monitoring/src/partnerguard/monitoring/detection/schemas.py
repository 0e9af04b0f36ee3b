"""The public contract of the partner's detector settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.settings import DEFAULTS


def _merge(defaults: Any, given: Any) -> Any:
    """``given`` over ``defaults``, object by object; anything else given replaces the default."""
    if isinstance(defaults, dict) and isinstance(given, dict):
        merged = dict(defaults)
        for key, value in given.items():
            merged[key] = _merge(defaults[key], value) if key in defaults else value
        return merged
    return given


def over_defaults(given: Any) -> Any:
    """A partial settings document completed with the defaults at every depth (a rule's
    ``{"enabled": false}`` keeps its operations); what is not an object is validated as sent."""
    if isinstance(given, DetectionConfig):
        return given
    return _merge(DEFAULTS.model_dump(mode="json"), given)


class DetectorSettingsOut(BaseModel):
    version: int = Field(description="0 is the built-in defaults, before the partner saves any.")
    config: DetectionConfig
    updated_by: str | None = Field(default=None, description="The client that saved it.")
    updated_at: datetime | None = None


class DetectorSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: Annotated[DetectionConfig, BeforeValidator(over_defaults)] = Field(
        description="The whole settings document, or part of it: whatever is left out, at any "
        "depth, takes its default (not the value saved before). Lists replace the default list. "
        "Unknown fields are refused."
    )
