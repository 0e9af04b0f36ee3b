"""HTTP: audit."""

from __future__ import annotations

from fastapi import APIRouter

from partnerguard.common.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1/enforcement", tags=["audit"], responses=PROBLEM_RESPONSES)
