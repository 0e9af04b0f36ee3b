"""The review queue's contract: claims and decisions by named reviewers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Reviewer = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(
        description="The person deciding (name or e-mail). The calling client is recorded "
        "beside it; a second reviewer must be a different person.",
        examples=["alice@partner.example"],
    ),
]


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: Reviewer


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: Reviewer
    decision: Decision
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
